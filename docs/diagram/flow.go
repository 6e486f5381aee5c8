package main

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/thumbq/thumbq/worker/config"
	"github.com/thumbq/thumbq/worker/link"
)

// graph is the diagram: nodes in the order they are drawn, grouped by construct, and edges.
type graph struct {
	nodes []*node
	byID  map[string]*node
	edges []edge
}

type node struct {
	id    string // DOT id
	label string // what it is for, then details
	group string // the CDK construct; "" for what is outside the stack
	shape string
}

// Edge kinds: the path an upload takes, what stands beside it, and what an alarm watches.
const (
	flowEdge = iota
	sideEdge
	watchEdge
)

type edge struct {
	from, to string
	label    string
	kind     int
}

func (g *graph) add(n *node) *node {
	if old, ok := g.byID[n.id]; ok {
		return old
	}
	g.byID[n.id] = n
	g.nodes = append(g.nodes, n)
	return n
}

func (g *graph) connect(from, to, label string, kind int) {
	g.edges = append(g.edges, edge{from, to, label, kind})
}

// flow reads the data flow out of a template.
func flow(t template) (*graph, error) {
	w, err := findWiring(t)
	if err != nil {
		return nil, err
	}
	g := &graph{byID: map[string]*node{}}
	n := addFlowNodes(g, t, w)
	drawIngest(g, t, w, n)
	drawDelivery(g, t, w, n)
	drawSidePaths(g, t, w, n)
	drawAlarms(g, t, w, n)
	drawOnCall(g, t)
	return g, nil
}

// wiring is what the worker is wired to: the logical ids of the template's resources on the flow.
type wiring struct {
	taskID, service string
	env             map[string]any
	source, thumbs  string // buckets
	work, dlq       string // queues
	topic           string
	rule            string
	undelivered     string // the rule's dead-letter queue, "" if none
	endpoint        string // the link endpoint's function, "" if none
	// What belongs to the worker: an alarm on any of these watches the worker.
	workerParts map[string]bool
}

// flowNodes are the nodes of the upload's path.
type flowNodes struct {
	uploader, src, rule, wq, worker, th, tp, dl *node
}

// findWiring finds the worker and everything the flow passes through.
func findWiring(t template) (*wiring, error) {
	w, err := workerResources(t)
	if err != nil {
		return nil, err
	}
	if w.rule, w.undelivered, err = uploadRule(t, w.source, w.work); err != nil {
		return nil, err
	}
	if w.service, err = workerService(t, w.taskID); err != nil {
		return nil, err
	}
	w.workerParts = workerParts(t, w.taskID, w.service)
	if w.endpoint, err = linkEndpoint(t, w.env); err != nil {
		return nil, err
	}
	return w, nil
}

// workerResources finds the worker's task definition and the buckets, queues and topic its
// container is given.
func workerResources(t template) (*wiring, error) {
	taskID, env, err := workerTask(t)
	if err != nil {
		return nil, err
	}
	ids := map[string]string{}
	for _, name := range []string{config.EnvSourceBucket, config.EnvThumbnailBucket, config.EnvQueueURL, config.EnvDeadLetterURL, config.EnvTopicARN} {
		id, ok := env[name].(string)
		if !ok || id == "" {
			return nil, fmt.Errorf("the worker's container gets no %s referencing a resource", name)
		}
		ids[name] = id
	}
	w := &wiring{taskID: taskID, env: env,
		source: ids[config.EnvSourceBucket], thumbs: ids[config.EnvThumbnailBucket],
		work: ids[config.EnvQueueURL], dlq: ids[config.EnvDeadLetterURL], topic: ids[config.EnvTopicARN]}
	for id, typ := range map[string]string{w.source: "AWS::S3::Bucket", w.thumbs: "AWS::S3::Bucket", w.work: "AWS::SQS::Queue", w.dlq: "AWS::SQS::Queue", w.topic: "AWS::SNS::Topic"} {
		if r, ok := t.Resources[id]; !ok || r.Type != typ {
			return nil, fmt.Errorf("the worker's container references %s, which is not an %s of the template", id, typ)
		}
	}
	return w, nil
}

// workerService finds the ECS service that runs the worker's task definition.
func workerService(t template, taskID string) (string, error) {
	service := ""
	for id, r := range t.Resources {
		if r.Type == "AWS::ECS::Service" && slices.Contains(refs(r.Properties["TaskDefinition"]), taskID) {
			service = id
		}
	}
	if service == "" {
		return "", fmt.Errorf("no ECS service runs the worker's task definition %s", taskID)
	}
	return service, nil
}

// workerParts is what belongs to the worker: its task definition, service, cluster and log groups.
func workerParts(t template, taskID, service string) map[string]bool {
	parts := map[string]bool{taskID: true, service: true}
	for _, id := range refs(t.Resources[service].Properties["Cluster"]) {
		parts[id] = true
	}
	for _, c := range list(t.Resources[taskID].Properties["ContainerDefinitions"]) {
		for _, id := range refs(dig(c, "LogConfiguration", "Options", "awslogs-group")) {
			parts[id] = true
		}
	}
	return parts
}

// addFlowNodes adds the nodes, in the order of the flow.
func addFlowNodes(g *graph, t template, w *wiring) flowNodes {
	return flowNodes{
		uploader: g.add(&node{id: "uploader", label: "uploader\nany S3 client", shape: "oval"}),
		src:      g.add(&node{id: "source", label: "source bucket\nthe uploads", group: t.construct(w.source), shape: "cylinder"}),
		rule:     g.add(&node{id: "rule", label: "EventBridge rule\nObject Created in the source bucket", group: t.construct(w.rule), shape: "hexagon"}),
		wq:       g.add(&node{id: "work", label: "work queue\n" + queueDetail(t.Resources[w.work]), group: t.construct(w.work), shape: "box"}),
		worker:   g.add(&node{id: "worker", label: "worker: thumbq work\n" + workerDetail(t, w.taskID, w.service), group: t.construct(w.taskID), shape: "box3d"}),
		th:       g.add(&node{id: "thumbnails", label: "thumbnail bucket\n" + thumbnailDetail(t.Resources[w.thumbs]), group: t.construct(w.thumbs), shape: "cylinder"}),
		tp:       g.add(&node{id: "topic", label: "thumbnail topic\na link or a failure per upload", group: t.construct(w.topic), shape: "box"}),
		dl:       g.add(&node{id: "deadletters", label: "dead-letter queue\n" + queueDetail(t.Resources[w.dlq]) + "\nthumbq status, thumbq redrive", group: t.construct(w.dlq), shape: "box"}),
	}
}

// drawIngest draws the upload's way to the worker: steps 1 to 5.
func drawIngest(g *graph, t template, w *wiring, n flowNodes) {
	wait := ""
	if s, ok := t.Resources[w.work].Properties["ReceiveMessageWaitTimeSeconds"]; ok {
		wait = fmt.Sprintf(" (%v s long poll)", s)
	}
	g.connect(n.uploader.id, n.src.id, "1 upload", flowEdge)
	g.connect(n.src.id, n.rule.id, "2 Object Created\n(default event bus)", flowEdge)
	g.connect(n.rule.id, n.wq.id, "3 the event", flowEdge)
	g.connect(n.wq.id, n.worker.id, "4 receive"+wait, flowEdge)
	g.connect(n.src.id, n.worker.id, "5 download", flowEdge)
}

// drawDelivery draws what the worker makes and how it reaches the readers: steps 6 to 10.
func drawDelivery(g *graph, t template, w *wiring, n flowNodes) {
	width := envOr(w.env, config.EnvThumbWidth, strconv.Itoa(config.DefaultThumbWidth))
	height := envOr(w.env, config.EnvThumbHeight, strconv.Itoa(config.DefaultThumbHeight))
	expiry := envOr(w.env, config.EnvURLExpiry, config.DefaultURLExpiry.String())
	if d, err := time.ParseDuration(expiry); err == nil {
		expiry = shortDuration(d)
	}
	made := fmt.Sprintf("6 %sx%s PNG", width, height)
	if sizes := envOr(w.env, config.EnvSizes, ""); sizes != "" {
		made = "6 PNG thumbnails\n" + sizes
	}
	g.connect(n.worker.id, n.th.id, made, flowEdge)
	if w.endpoint == "" {
		g.connect(n.worker.id, n.tp.id, "7 presigned link ("+expiry+")\nor the failure", flowEdge)
	} else {
		g.connect(n.worker.id, n.tp.id, "7 link ("+expiry+")\nor the failure", flowEdge)
	}
	readers := subscribers(t, g, w.topic, n.tp, "8 email", "subscribers\nNOTIFY_EMAILS at deploy", flowEdge)
	if w.endpoint != "" {
		drawLinks(g, t, w.endpoint, readers, n.th)
	}
}

// drawLinks draws the link endpoint: the readers open the link (9), it redirects to the thumbnail (10).
func drawLinks(g *graph, t template, endpoint string, readers []string, thumbnails *node) {
	label := "link endpoint" // its own description says what it is for, where it has one
	if d, ok := t.Resources[endpoint].Properties["Description"].(string); ok && d != "" {
		label = wrap(d, 40)
	}
	ln := g.add(&node{id: "links", label: label, group: t.construct(endpoint), shape: "box3d"})
	for _, r := range readers {
		g.connect(r, ln.id, "9 open the link", flowEdge)
	}
	g.connect(ln.id, thumbnails.id, "10 redirect to the thumbnail", flowEdge)
}

// drawSidePaths draws what leaves the flow: dead letters and events the rule could not deliver.
func drawSidePaths(g *graph, t template, w *wiring, n flowNodes) {
	g.connect(n.worker.id, n.dl.id, fmt.Sprintf("with its reason: a bad upload at once,\na transient failure on the %s receive", ordinal(config.MaxReceiveCount)), sideEdge)
	work := t.Resources[w.work].Properties
	if receives := dig(work, "RedrivePolicy", "maxReceiveCount"); receives != nil && slices.Contains(refs(dig(work, "RedrivePolicy", "deadLetterTargetArn")), w.dlq) {
		g.connect(n.wq.id, n.dl.id, fmt.Sprintf("by SQS after %v receives\n(a worker killed mid-work)", receives), sideEdge)
	}
	if w.undelivered != "" {
		u := g.add(&node{id: "undelivered", label: "undelivered events\n" + queueDetail(t.Resources[w.undelivered]), group: t.construct(w.undelivered), shape: "box"})
		g.connect(n.rule.id, u.id, "events it could not deliver", sideEdge)
	}
}

// drawAlarms draws the alarms beside the flow: what each watches, and where it rings.
func drawAlarms(g *graph, t template, w *wiring, n flowNodes) {
	subject := map[string]string{w.work: n.wq.id, w.dlq: n.dl.id, w.source: n.src.id, w.thumbs: n.th.id, w.topic: n.tp.id}
	if w.undelivered != "" {
		subject[w.undelivered] = "undelivered"
	}
	for id := range w.workerParts {
		subject[id] = n.worker.id
	}
	filters := metricFilters(t, w.workerParts)
	for _, id := range sortedIDs(t, "AWS::CloudWatch::Alarm") {
		watched := watchedBy(t.Resources[id], subject, filters, n.worker.id)
		rings, scales := alarmActions(t, t.Resources[id])
		if len(watched) == 0 && len(rings) == 0 && !scales {
			continue
		}
		a := g.add(&node{id: "alarm_" + id, label: "alarm: " + alarmName(t.path(id)), group: t.construct(id), shape: "note"})
		for _, s := range sortedKeys(watched) {
			g.connect(s, a.id, "", watchEdge)
		}
		if scales {
			g.connect(a.id, n.worker.id, "scales the tasks", sideEdge)
		}
		for _, ref := range rings {
			ops := g.add(&node{id: "ops_" + ref, label: "operations topic\nalarms", group: t.construct(ref), shape: "box"})
			g.connect(a.id, ops.id, "", sideEdge)
		}
	}
}

// watchedBy returns the nodes an alarm watches: those whose resources it references outside its
// actions, and the worker when it is on a metric filtered from the worker's logs.
func watchedBy(r resource, subject map[string]string, filters map[string]bool, worker string) map[string]bool {
	watched := map[string]bool{}
	for k, v := range r.Properties {
		if strings.HasSuffix(k, "Actions") {
			continue
		}
		for _, ref := range refs(v) {
			if s, ok := subject[ref]; ok {
				watched[s] = true
			}
		}
	}
	for _, m := range metricsOf(r) {
		if filters[m] {
			watched[worker] = true
		}
	}
	return watched
}

// alarmActions returns the topics an alarm rings, and whether it scales the worker.
func alarmActions(t template, r resource) (rings []string, scales bool) {
	for _, ref := range refs(r.Properties["AlarmActions"]) {
		switch t.Resources[ref].Type {
		case "AWS::SNS::Topic":
			rings = append(rings, ref)
		case "AWS::ApplicationAutoScaling::ScalingPolicy":
			scales = true
		}
	}
	return rings, scales
}

// drawOnCall draws who the operations topics reach.
func drawOnCall(g *graph, t template) {
	for _, n := range g.nodes {
		if ref, ok := strings.CutPrefix(n.id, "ops_"); ok {
			subscribers(t, g, ref, n, "email", "on call\nOPS_EMAILS at deploy", sideEdge)
		}
	}
}

// workerTask finds the task definition whose container is given THUMBQ_QUEUE_URL and returns its
// environment: a variable referencing a resource maps to its logical id, a literal to its value
// prefixed with "=".
func workerTask(t template) (string, map[string]any, error) {
	var found []string
	var env map[string]any
	for _, id := range sortedIDs(t, "AWS::ECS::TaskDefinition") {
		for _, c := range list(t.Resources[id].Properties["ContainerDefinitions"]) {
			e := map[string]any{}
			for _, kv := range list(dig(c, "Environment")) {
				name, _ := dig(kv, "Name").(string)
				v := dig(kv, "Value")
				if s, ok := v.(string); ok {
					e[name] = "=" + s
				} else if r := refs(v); len(r) == 1 {
					e[name] = r[0]
				}
			}
			if _, ok := e[config.EnvQueueURL]; ok {
				found, env = append(found, id), e
			}
		}
	}
	switch len(found) {
	case 0:
		return "", nil, fmt.Errorf("no ECS task definition gives its container %s: where is the worker?", config.EnvQueueURL)
	case 1:
		return found[0], env, nil
	}
	return "", nil, fmt.Errorf("several task definitions look like the worker: %v", found)
}

// uploadRule finds the EventBridge rule that sends the source bucket's events to the work queue,
// and the queue it sends what it cannot deliver to ("" if none).
func uploadRule(t template, source, work string) (string, string, error) {
	for _, id := range sortedIDs(t, "AWS::Events::Rule") {
		r := t.Resources[id]
		if !slices.Contains(refs(r.Properties["EventPattern"]), source) {
			continue
		}
		for _, target := range list(r.Properties["Targets"]) {
			if slices.Contains(refs(dig(target, "Arn")), work) {
				undelivered := ""
				if d := refs(dig(target, "DeadLetterConfig", "Arn")); len(d) == 1 {
					undelivered = d[0]
				}
				return id, undelivered, nil
			}
		}
	}
	return "", "", fmt.Errorf("no EventBridge rule matches events of the source bucket %s and targets the work queue %s", source, work)
}

// subscribers draws a topic's subscriptions, or where none is in the template (they are added at
// deploy), one node saying how to add them.
func subscribers(t template, g *graph, topicID string, topic *node, label, none string, kind int) (ids []string) {
	var subs []string
	for _, id := range sortedIDs(t, "AWS::SNS::Subscription") {
		if slices.Contains(refs(t.Resources[id].Properties["TopicArn"]), topicID) {
			subs = append(subs, id)
		}
	}
	if len(subs) == 0 {
		n := g.add(&node{id: topic.id + "_subscribers", label: "email " + none, shape: "oval"})
		g.connect(topic.id, n.id, label, kind)
		return []string{n.id}
	}
	for _, id := range subs {
		p := t.Resources[id].Properties
		n := g.add(&node{id: "sub_" + id, label: fmt.Sprintf("%v\n%v", p["Protocol"], p["Endpoint"]), shape: "oval"})
		g.connect(topic.id, n.id, label, kind)
		ids = append(ids, n.id)
	}
	return ids
}

// linkEndpoint returns the function behind the worker's THUMBQ_LINK_URL, "" when the worker
// publishes presigned URLs itself (no link endpoint).
func linkEndpoint(t template, env map[string]any) (string, error) {
	id, ok := env[link.EnvBaseURL].(string)
	if !ok || strings.HasPrefix(id, "=") {
		return "", nil
	}
	r := t.Resources[id]
	if r.Type == "AWS::Lambda::Url" {
		if fn := refs(r.Properties["TargetFunctionArn"]); len(fn) == 1 {
			return fn[0], nil
		}
	}
	if r.Type == "AWS::Lambda::Function" {
		return id, nil
	}
	return "", fmt.Errorf("the worker's %s references %s (%s), not a Lambda function URL", link.EnvBaseURL, id, r.Type)
}

// ordinal writes 1st, 2nd, 3rd, 4th...
func ordinal(n int) string {
	switch {
	case n%100 >= 11 && n%100 <= 13:
		return fmt.Sprintf("%dth", n)
	case n%10 == 1:
		return fmt.Sprintf("%dst", n)
	case n%10 == 2:
		return fmt.Sprintf("%dnd", n)
	case n%10 == 3:
		return fmt.Sprintf("%drd", n)
	}
	return fmt.Sprintf("%dth", n)
}

// wrap breaks s into lines of about n characters at spaces.
func wrap(s string, n int) string {
	var lines []string
	line := ""
	for _, w := range strings.Fields(s) {
		if line != "" && len(line)+1+len(w) > n {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += w
	}
	return strings.Join(append(lines, line), "\n")
}

// metricFilters returns the metrics (namespace/name) that log filters of the given log groups
// publish: an alarm on one of them watches the worker's log.
func metricFilters(t template, logGroups map[string]bool) map[string]bool {
	m := map[string]bool{}
	for _, id := range sortedIDs(t, "AWS::Logs::MetricFilter") {
		p := t.Resources[id].Properties
		ours := false
		for _, ref := range refs(p["LogGroupName"]) {
			ours = ours || logGroups[ref]
		}
		if !ours {
			continue
		}
		for _, tr := range list(p["MetricTransformations"]) {
			m[fmt.Sprintf("%v/%v", dig(tr, "MetricNamespace"), dig(tr, "MetricName"))] = true
		}
	}
	return m
}

// metricsOf lists the metrics (namespace/name) an alarm reads.
func metricsOf(r resource) []string {
	var ms []string
	if n, ok := r.Properties["MetricName"]; ok {
		ms = append(ms, fmt.Sprintf("%v/%v", r.Properties["Namespace"], n))
	}
	for _, q := range list(r.Properties["Metrics"]) {
		if m := dig(q, "MetricStat", "Metric"); m != nil {
			ms = append(ms, fmt.Sprintf("%v/%v", dig(m, "Namespace"), dig(m, "MetricName")))
		}
	}
	return ms
}

func queueDetail(r resource) string {
	var parts []string
	if v, ok := r.Properties["VisibilityTimeout"]; ok {
		parts = append(parts, fmt.Sprintf("visibility %v s", v))
	}
	if v, ok := number(r.Properties["MessageRetentionPeriod"]); ok {
		parts = append(parts, "kept "+shortDuration(time.Duration(v)*time.Second))
	}
	return strings.Join(parts, ", ")
}

func thumbnailDetail(r resource) string {
	for _, rule := range list(dig(r.Properties, "LifecycleConfiguration", "Rules")) {
		if days, ok := number(dig(rule, "ExpirationInDays")); ok {
			return fmt.Sprintf("thumbnails, expire after %d days", days)
		}
	}
	return "thumbnails"
}

func workerDetail(t template, taskID, service string) string {
	p := t.Resources[taskID].Properties
	var parts []string
	parts = append(parts, "ECS Fargate")
	if arch, ok := dig(p, "RuntimePlatform", "CpuArchitecture").(string); ok {
		parts[0] += " " + arch
	}
	if cpu, ok := number(p["Cpu"]); ok {
		parts = append(parts, strings.TrimSuffix(strconv.FormatFloat(float64(cpu)/1024, 'f', 2, 64), "0")+" vCPU")
	}
	if mem, ok := number(p["Memory"]); ok {
		parts = append(parts, strings.TrimSuffix(strings.TrimSuffix(strconv.FormatFloat(float64(mem)/1024, 'f', 1, 64), "0"), ".")+" GiB")
	}
	line := strings.Join(parts, ", ")
	for _, id := range sortedIDs(t, "AWS::ApplicationAutoScaling::ScalableTarget") {
		st := t.Resources[id].Properties
		if slices.Contains(refs(st["ResourceId"]), service) {
			line += fmt.Sprintf("\n%v-%v tasks, scaled on the backlog", st["MinCapacity"], st["MaxCapacity"])
		}
	}
	return line
}

// alarmName makes a label of an alarm's construct path: .../Monitoring/NewDeadLetters/Resource
// reads "new dead letters"; a scaling alarm (.../FromZero/UpperAlarm/Resource) "from zero".
func alarmName(path string) string {
	segs := strings.Split(path, "/")
	for len(segs) > 1 && (segs[len(segs)-1] == "Resource" || strings.HasSuffix(segs[len(segs)-1], "Alarm")) {
		segs = segs[:len(segs)-1]
	}
	return words(segs[len(segs)-1])
}

// words splits a CamelCase id into lower-case words.
func words(id string) string {
	var b strings.Builder
	for i, r := range id {
		if unicode.IsUpper(r) && i > 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

func shortDuration(d time.Duration) string {
	switch {
	case d%(24*time.Hour) == 0 && d > 24*time.Hour:
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	case d%time.Hour == 0:
		return fmt.Sprintf("%d h", d/time.Hour)
	}
	return d.String()
}

func envOr(env map[string]any, name, def string) string {
	if v, ok := env[name].(string); ok && strings.HasPrefix(v, "=") {
		return v[1:]
	}
	return def
}

// path is a resource's construct path (aws:cdk:path): thumbq-dev/Ingest/WorkQueue/Resource.
func (t template) path(id string) string {
	p, _ := t.Resources[id].Metadata["aws:cdk:path"].(string)
	return p
}

// construct is the top-level construct a resource belongs to ("Ingest"); "" when the template
// carries no construct paths.
func (t template) construct(id string) string {
	segs := strings.Split(t.path(id), "/")
	if len(segs) < 3 {
		return ""
	}
	return segs[1]
}

// refs lists the logical ids v references (Ref, Fn::GetAtt), in order, without pseudo parameters.
func refs(v any) []string {
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if r, ok := v["Ref"].(string); ok && !strings.HasPrefix(r, "AWS::") {
				out = append(out, r)
			}
			if ga, ok := v["Fn::GetAtt"].([]any); ok && len(ga) > 0 {
				if id, ok := ga[0].(string); ok {
					out = append(out, id)
				}
			}
			for _, k := range sortedKeys(v) {
				if k != "Ref" && k != "Fn::GetAtt" {
					walk(v[k])
				}
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

// dig follows keys through nested objects; nil when one is missing.
func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

// number reads a template number, which may be written as a string ("512").
func number(v any) (int, bool) {
	switch v := v.(type) {
	case float64:
		return int(v), true
	case string:
		n, err := strconv.Atoi(v)
		return n, err == nil
	}
	return 0, false
}

func sortedIDs(t template, typ string) []string {
	var ids []string
	for id, r := range t.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
