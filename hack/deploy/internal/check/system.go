package check

// Function is what the system design says about one function; the
// manifests must wire it exactly so.
type Function struct {
	Name       string
	Components []string // Dapr components it uses
	InvokedBy  []string // app-ids allowed to invoke it
	Topics     []string // topics it subscribes to (Dapr + KafkaSource)
	Pings      []Ping   // PingSources that wake it
	MinScale   int      // default min-scale
}

// Ping is a PingSource delivering to Path on Schedule.
type Ping struct {
	Schedule string
	Path     string
}

// ChatAPI is the app-id of the Chat API.
const ChatAPI = "chat-api"

// System is the design the manifests implement.
var System = []Function{
	{Name: "create-task", Components: []string{"pubsub", "tasks", "dedupe"}, InvokedBy: []string{ChatAPI}},
	{Name: "update-task", Components: []string{"pubsub", "tasks", "dedupe"}, InvokedBy: []string{ChatAPI}},
	{Name: "complete-task", Components: []string{"pubsub", "tasks", "dedupe"}, InvokedBy: []string{ChatAPI}},
	{Name: "delete-task", Components: []string{"pubsub", "tasks", "dedupe"}, InvokedBy: []string{ChatAPI}},
	{Name: "list-tasks", Components: []string{"tasks"}, InvokedBy: []string{ChatAPI}},
	{
		Name: "fire-reminder", Components: []string{"pubsub", "tasks", "dedupe"},
		InvokedBy: []string{"sweep-reminders"}, Topics: []string{"todo.tasks.events"},
		Pings: []Ping{{Schedule: "* * * * *", Path: "/events/wake"}}, MinScale: 1,
	},
	{
		Name: "send-notification", Components: []string{"pubsub", "dedupe", "tasks", "secrets", "notify-webhook"},
		InvokedBy: []string{ChatAPI}, Topics: []string{"todo.reminders.events"},
	},
	{
		Name: "sweep-reminders", Components: []string{"tasks", "dedupe", "pubsub", "reminder-sweep"},
		Pings: []Ping{{Schedule: "*/1 * * * *", Path: "/events/reminder-sweep"}},
	},
}

// ComponentTypes are the Kubernetes implementations of the components.
var ComponentTypes = map[string]string{
	"pubsub":         "pubsub.kafka",
	"tasks":          "state.postgresql",
	"dedupe":         "state.redis",
	"secrets":        "secretstores.kubernetes",
	"reminder-sweep": "bindings.cron",
	"notify-webhook": "bindings.http",
}

// FunctionByName returns the design of the named function.
func FunctionByName(name string) (Function, bool) {
	for _, f := range System {
		if f.Name == name {
			return f, true
		}
	}
	return Function{}, false
}
