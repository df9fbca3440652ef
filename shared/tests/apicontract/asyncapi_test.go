package apicontract

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	yaml "go.yaml.in/yaml/v3"

	"github.com/todo-chatbot/functions/shared/todo/eventschema"
	"github.com/todo-chatbot/functions/shared/todo/reminder"
	"github.com/todo-chatbot/functions/shared/todo/task"
)

// schemaDir is where the AsyncAPI document's data schemas live, relative
// to the document.
const schemaDir = "../../shared/todo/eventschema/schemas/"

// asyncAPI is docs/api/asyncapi.yaml as plain JSON values.
type asyncAPI struct {
	root map[string]any
	dir  string // the document's folder, for relative references
}

func loadAsyncAPI(t testing.TB) asyncAPI {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "docs", "api")
	b, err := os.ReadFile(filepath.Join(dir, "asyncapi.yaml"))
	require.NoError(t, err)
	var v any
	require.NoError(t, yaml.Unmarshal(b, &v), "docs/api/asyncapi.yaml is not YAML")
	// Through JSON, so every value is what a JSON parser would see.
	j, err := json.Marshal(v)
	require.NoError(t, err, "docs/api/asyncapi.yaml has values JSON cannot hold")
	var root map[string]any
	require.NoError(t, json.Unmarshal(j, &root))
	return asyncAPI{root: root, dir: dir}
}

// pointer resolves a JSON pointer ("/a/b") in v.
func pointer(v any, ptr string) (any, bool) {
	if ptr == "" {
		return v, true
	}
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := v.(type) {
		case map[string]any:
			next, ok := c[tok]
			if !ok {
				return nil, false
			}
			v = next
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			v = c[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// resolve follows one $ref of the document: local, or into a JSON file
// relative to it.
func (d asyncAPI) resolve(ref string) (any, error) {
	file, frag, _ := strings.Cut(ref, "#")
	var target any = d.root
	if file != "" {
		b, err := os.ReadFile(filepath.Join(d.dir, filepath.FromSlash(file)))
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &target); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	v, ok := pointer(target, frag)
	if !ok {
		return nil, fmt.Errorf("%s: nothing at #%s", file, frag)
	}
	return v, nil
}

// refs lists every $ref in v with where it is.
func refs(v any, at string, out map[string]string) {
	switch c := v.(type) {
	case map[string]any:
		for k, sub := range c {
			if s, ok := sub.(string); ok && k == "$ref" {
				out[at] = s
				continue
			}
			refs(sub, at+"/"+k, out)
		}
	case []any:
		for i, sub := range c {
			refs(sub, at+"/"+strconv.Itoa(i), out)
		}
	}
}

func obj(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// messageInfo is what the document says about one event type.
type messageInfo struct {
	Key     string // under components.messages
	Channel string // the topic it is published on (not a dead-letter topic)
}

// messages returns the document's messages by event type.
func (d asyncAPI) messages(t testing.TB) map[string]messageInfo {
	t.Helper()
	out := map[string]messageInfo{}
	for key, m := range obj(obj(d.root["components"])["messages"]) {
		name, _ := obj(m)["name"].(string)
		require.NotEmpty(t, name, "message %s has no name (its CloudEvent type)", key)
		out[name] = messageInfo{Key: key}
	}
	for chKey, ch := range obj(d.root["channels"]) {
		addr, _ := obj(ch)["address"].(string)
		if strings.HasSuffix(addr, ".dlq") {
			continue
		}
		for _, m := range obj(obj(ch)["messages"]) {
			ref, _ := obj(m)["$ref"].(string)
			key := strings.TrimPrefix(ref, "#/components/messages/")
			for name, info := range out {
				if info.Key == key {
					require.Empty(t, info.Channel, "%s is on two topics (%s and %s)", name, info.Channel, chKey)
					info.Channel = addr
					out[name] = info
				}
			}
		}
	}
	return out
}

// TestAsyncAPIDocument: the document parses, every reference resolves, it
// describes exactly the event types that have schemas, each on the topic
// the code publishes it on, with its data pointing at its own schema.
func TestAsyncAPIDocument(t *testing.T) {
	d := loadAsyncAPI(t)
	assert.Equal(t, "3.0.0", d.root["asyncapi"])

	all := map[string]string{}
	refs(d.root, "", all)
	require.NotEmpty(t, all)
	for at, ref := range all {
		_, err := d.resolve(ref)
		assert.NoError(t, err, "$ref %q at %s does not resolve", ref, at)
	}

	msgs := d.messages(t)
	names := make([]string, 0, len(msgs))
	for name := range msgs {
		names = append(names, name)
	}
	slices.Sort(names)
	assert.Equal(t, eventschema.Types(), names, "the messages must be exactly the event types with a schema")

	for name, info := range msgs {
		m := obj(obj(obj(d.root["components"])["messages"])[info.Key])
		assert.Equal(t, "application/cloudevents+json", m["contentType"], name)
		want := task.Topic
		if strings.HasPrefix(name, "com.todo.reminder.") {
			want = reminder.Topic
		}
		assert.Equal(t, want, info.Channel, "%s: topic", name)

		allOf, _ := obj(m["payload"])["allOf"].([]any)
		require.Len(t, allOf, 2, "%s: payload is allOf [CloudEvent envelope, this type]", name)
		assert.Equal(t, "#/components/schemas/CloudEvent", obj(allOf[0])["$ref"], name)
		props := obj(obj(allOf[1])["properties"])
		assert.Equal(t, name, obj(props["type"])["const"], "%s: type attribute", name)
		assert.Equal(t, schemaDir+name+".json", obj(props["data"])["$ref"], "%s: data schema", name)
		assert.NotEmpty(t, obj(props["source"]), "%s: which functions publish it", name)
	}

	// Each topic has its dead-letter topic, carrying the same messages.
	channels := obj(d.root["channels"])
	byAddr := map[string]map[string]any{}
	for _, ch := range channels {
		byAddr[obj(ch)["address"].(string)] = obj(obj(ch)["messages"])
	}
	for _, topic := range []string{task.Topic, reminder.Topic} {
		require.Contains(t, byAddr, topic)
		assert.Equal(t, byAddr[topic], byAddr[topic+".dlq"], "%s.dlq carries what %s does", topic, topic)
	}

	// An operation's messages belong to its channel.
	for name, op := range obj(d.root["operations"]) {
		ch, _ := obj(obj(op)["channel"])["$ref"].(string)
		require.True(t, strings.HasPrefix(ch, "#/channels/"), "operation %s: channel", name)
		assert.Contains(t, []any{"send", "receive"}, obj(op)["action"], "operation %s: action", name)
		msgs, _ := obj(op)["messages"].([]any)
		assert.NotEmpty(t, msgs, "operation %s lists its messages", name)
		for _, m := range msgs {
			ref, _ := obj(m)["$ref"].(string)
			assert.True(t, strings.HasPrefix(ref, ch+"/messages/"), "operation %s: message %s is not on %s", name, ref, ch)
		}
	}
}

// payloadSchemas compiles each message's payload schema (envelope and
// data) by event type, for checking real records.
func payloadSchemas(t testing.TB, d asyncAPI) map[string]*jsonschema.Schema {
	t.Helper()
	// The data schemas are referred to by path from the document and
	// identify themselves by $id under eventschema.BaseURL: compile them
	// under their ids, as eventschema does.
	var doc any
	j, err := json.Marshal(d.root)
	require.NoError(t, err)
	j = bytes.ReplaceAll(j, []byte(`"$ref":"`+schemaDir), []byte(`"$ref":"`+eventschema.BaseURL))
	require.NoError(t, json.Unmarshal(j, &doc))

	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	files, err := filepath.Glob(filepath.Join(d.dir, filepath.FromSlash(schemaDir), "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
		require.NoError(t, err, f)
		require.NoError(t, c.AddResource(eventschema.BaseURL+filepath.Base(f), v))
	}
	const docURL = "https://schemas.todo-chatbot.example/asyncapi.json"
	require.NoError(t, c.AddResource(docURL, doc))
	out := map[string]*jsonschema.Schema{}
	for name, info := range d.messages(t) {
		s, err := c.Compile(docURL + "#/components/messages/" + info.Key + "/payload")
		require.NoError(t, err, "payload of %s", name)
		out[name] = s
	}
	return out
}

// TestAsyncAPIPayloads: the payload schemas compile, accept the documented
// examples of docs/events and reject a record whose data or envelope is off.
func TestAsyncAPIPayloads(t *testing.T) {
	schemas := payloadSchemas(t, loadAsyncAPI(t))
	require.Len(t, schemas, len(eventschema.Types()))

	good := map[string]any{
		"specversion": "1.0", "id": "6b0f1d64-2a53-5c8e-9f0e-4f1c2d3e4a5b", "source": "create-task",
		"type": task.EventCreated, "subject": "t1", "partitionkey": "t1", "time": "2026-03-01T09:30:00.123Z",
		"datacontenttype": "application/json", "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"data": map[string]any{
			"id": "t1", "user_id": "user-42", "title": "Pay rent", "description": "", "completed": false,
			"priority": "high", "tags": []any{"home"}, "due_at": "2026-03-31T10:00:00Z", "remind_at": nil,
			"recurrence": map[string]any{"frequency": "monthly", "interval": 1},
			"created_at": "2026-03-01T09:30:00Z", "updated_at": "2026-03-01T09:30:00Z", "completed_at": nil,
		},
	}
	assert.NoError(t, schemas[task.EventCreated].Validate(good))

	for what, change := range map[string]func(m map[string]any){
		"completed in a created event": func(m map[string]any) { obj(m["data"])["completed"] = true },
		"undeclared data field":        func(m map[string]any) { obj(m["data"])["colour"] = "red" },
		"wrong source":                 func(m map[string]any) { m["source"] = "update-task" },
		"no partition key":             func(m map[string]any) { delete(m, "partitionkey") },
		"bad attribute name":           func(m map[string]any) { m["Trace-Id"] = "x" },
	} {
		bad := clone(good)
		change(bad)
		assert.Error(t, schemas[task.EventCreated].Validate(bad), what)
	}
	// The same record is not a valid event of another type.
	assert.Error(t, schemas[task.EventUpdated].Validate(good))
}

func clone(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}
