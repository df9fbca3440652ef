package devstack

import (
	"errors"
	"time"

	cloudevents "github.com/cloudevents/sdk-go/v2"
	"github.com/nats-io/nats.go"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/twmb/franz-go/pkg/kgo"
)

// WatchTopics records topics from the project's broker, whichever its
// profile uses, beside the functions' own consumers. On Kafka and
// JetStream it reads each topic from its start; on RabbitMQ, which keeps
// no log, from the moment it binds its own queue (call it before the test
// publishes).
func (p *Project) WatchTopics(t TB, topics ...string) *TopicLog {
	t.Helper()
	switch {
	case p.Run.Profile.Kafka():
		return WatchTopics(t, p.BrokerAddr(), topics...)
	case p.Run.RabbitMQURL != "":
		return watchRabbitMQ(t, p.Run.RabbitMQURL, topics...)
	default:
		return watchJetStream(t, p.Run.NATSURL, topics...)
	}
}

// add records a message of a broker other than Kafka. Its body is the
// event as the functions publish it, raw, in the structured JSON format;
// the record says so as a Kafka record's content-type header does, so
// Events reads every broker's records one way.
func (l *TopicLog) add(topic string, value []byte) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.records = append(l.records, &kgo.Record{Topic: topic, Value: value, Timestamp: time.Now(),
		Headers: []kgo.RecordHeader{{Key: "content-type", Value: []byte(cloudevents.ApplicationCloudEventsJSON)}}})
}

// watchRabbitMQ binds a queue of its own to each topic's exchange.
func watchRabbitMQ(t TB, url string, topics ...string) *TopicLog {
	t.Helper()
	conn, err := amqp.Dial(url)
	if err != nil {
		t.Fatalf("devstack: watch topics: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	l := &TopicLog{}
	for _, topic := range topics {
		ch, err := exchangeChannel(conn, topic)
		if err != nil {
			t.Fatalf("devstack: watch topic %s: %v", topic, err)
		}
		q, err := ch.QueueDeclare("", false, true, true, false, nil)
		if err == nil {
			err = ch.QueueBind(q.Name, "", topic, false, nil)
		}
		var msgs <-chan amqp.Delivery
		if err == nil {
			msgs, err = ch.Consume(q.Name, "", true, true, false, false, nil)
		}
		if err != nil {
			t.Fatalf("devstack: watch topic %s: %v", topic, err)
		}
		go func() {
			for m := range msgs {
				l.add(topic, m.Body)
			}
		}()
	}
	return l
}

// exchangeChannel waits until a sidecar declared the topic's exchange (as
// its component's metadata says: a watcher declaring it first with other
// settings would break the sidecar's own declaration) and returns a
// channel to consume from. A failed passive declaration closes its
// channel, so each try takes a new one.
func exchangeChannel(conn *amqp.Connection, topic string) (*amqp.Channel, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		ch, err := conn.Channel()
		if err != nil {
			return nil, err
		}
		err = ch.ExchangeDeclarePassive(topic, amqp.ExchangeFanout, true, false, false, false, nil)
		if err == nil {
			return ch, nil
		}
		var amqpErr *amqp.Error
		if !errors.As(err, &amqpErr) || amqpErr.Code != amqp.NotFound || time.Now().After(deadline) {
			return nil, err
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// watchJetStream reads each topic's subject from the stream's start with
// an ordered consumer of its own.
func watchJetStream(t TB, url string, topics ...string) *TopicLog {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("devstack: watch topics: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := nc.JetStream()
	if err != nil {
		t.Fatalf("devstack: watch topics: %v", err)
	}
	l := &TopicLog{}
	for _, topic := range topics {
		_, err := js.Subscribe(topic, func(m *nats.Msg) { l.add(topic, m.Data) }, nats.OrderedConsumer(), nats.DeliverAll())
		if err != nil {
			t.Fatalf("devstack: watch topic %s: %v", topic, err)
		}
	}
	return l
}
