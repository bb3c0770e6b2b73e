// Package meshery reads Meshery performance profiles and turns them into SMP
// test configs, so that a Meshery user can rerun a profile with smp.
//
// A profile is what Meshery stores for a saved performance test (its
// server/models.PerformanceProfile) and what `mesheryctl perf profile -o
// json|yaml` prints. Meshery has written its field names in two styles over
// the years, and both are read:
//
//	snake_case (older)   camelCase (newer)    meaning
//	name                 name                 the profile's name
//	endpoints            endpoints            URLs under test
//	load_generators      loadGenerators       fortio, wrk2, nighthawk
//	concurrent_request   concurrentRequest    connections
//	qps                  qps                  target rate; 0 = as fast as possible
//	duration             duration             Go duration, "30s"
//	request_headers      requestHeaders       JSON object as a string: {"a":"b"}
//	request_cookies      requestCookies       JSON object as a string
//	request_body         requestBody          request body
//	content_type         contentType          Content-Type of the body
//	service_mesh         serviceMesh          istio, linkerd, ... or None
//	metadata             metadata             additional_options is kept
//
// Bookkeeping fields (id, last_run, schedule, total_results, created_at,
// updated_at, user_id) are accepted; id becomes the config's id and the
// rest is dropped. Any other field is an error, so that a typo does not
// silently change the test. Headers and cookies may also be written as a
// mapping rather than a JSON string.
//
// Meshery's other test file, {test: PerformanceTestConfig, mesh: ServiceMesh},
// is plain SMP and is read by package spec. Commands read profiles through
// package interop, which calls this one.
package meshery

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/smp-project/smp/spec"
	"go.yaml.in/yaml/v3"
)

// MaxProfiles bounds how many profiles one file may hold: a page of
// Meshery's profile list is at most a few hundred.
const MaxProfiles = 10_000

// Profile is one Meshery performance profile.
type Profile struct {
	ID                string
	Name              string
	Endpoints         []string
	LoadGenerators    []string
	ServiceMesh       string
	ConcurrentRequest int64
	QPS               int64
	Duration          string
	RequestHeaders    map[string]string
	RequestCookies    map[string]string
	RequestBody       string
	ContentType       string
	// AdditionalOptions is metadata.additional_options: load-generator
	// options as a JSON string.
	AdditionalOptions string

	// File and Path say where the profile was read, for messages.
	File, Path string
	// Errs are the problems found reading this profile (ParseEach);
	// empty for a well-formed one.
	Errs spec.Errors
}

// profileKeys are the field names that mark a mapping as a profile (at least
// one must be present besides name).
func profileKeys() []string {
	return []string{
		"endpoints", "load_generators", "loadGenerators", "concurrent_request", "concurrentRequest",
		"request_headers", "requestHeaders", "service_mesh", "serviceMesh",
	}
}

// IsProfile reports whether data looks like a Meshery profile, a list of
// profiles or a page of Meshery's profile list. It does not validate.
func IsProfile(data []byte) bool {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return false
	}
	top := documentRoot(&root)
	switch {
	case top == nil:
		return false
	case top.Kind == yaml.SequenceNode:
		return len(top.Content) > 0 && looksLikeProfile(top.Content[0])
	case top.Kind == yaml.MappingNode:
		if p := mapValue(top, "profiles"); p != nil && p.Kind == yaml.SequenceNode {
			return true
		}
		return looksLikeProfile(top)
	}
	return false
}

func looksLikeProfile(n *yaml.Node) bool {
	if n.Kind != yaml.MappingNode {
		return false
	}
	for _, k := range profileKeys() {
		if mapValue(n, k) != nil {
			return true
		}
	}
	return false
}

// Parse reads one profile, a list of profiles, or a page of Meshery's
// profile list ({page, page_size, total_count, profiles: [...]}), in YAML or
// JSON. Every problem is reported as a spec.FieldError with the file, line
// and field path; the error is then a spec.Errors.
func Parse(data []byte, file string) ([]*Profile, error) {
	out, err := ParseEach(data, file)
	if err != nil {
		return nil, err
	}
	var errs spec.Errors
	for _, p := range out {
		errs = append(errs, p.Errs...)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out, nil
}

// ParseEach reads profiles as Parse does, but a malformed profile of a list
// does not fail the file: its problems are in its Errs, each naming its
// index ("[1].requestHeaders", "profiles[1].qps"), so that a valid one can
// still be chosen. The error is for the document as a whole: not YAML or
// JSON, empty, or not profiles.
func ParseEach(data []byte, file string) ([]*Profile, error) {
	if len(data) > spec.MaxFileSize {
		return nil, spec.Errors{{File: file, Msg: fmt.Sprintf("file is larger than %d MiB; a Meshery profile is a few KiB", spec.MaxFileSize>>20)}}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, spec.Errors{{File: file, Msg: "file is empty; expected a Meshery performance profile"}}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, spec.Errors{{File: file, Msg: "malformed YAML/JSON: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	top := documentRoot(&root)
	if top == nil {
		return nil, spec.Errors{{File: file, Msg: "file holds no document; expected a Meshery performance profile"}}
	}
	p := &parser{file: file}
	var list *yaml.Node
	prefix := ""
	switch top.Kind {
	case yaml.SequenceNode:
		list = top
	case yaml.MappingNode:
		if l := mapValue(top, "profiles"); l != nil {
			if l.Kind != yaml.SequenceNode {
				p.fail(l, "profiles", "expected a list of profiles, found "+kindName(l))
				return nil, p.errs
			}
			list, prefix = l, "profiles"
		}
	default:
		p.fail(top, "", "expected a profile (a mapping of fields), found "+kindName(top))
		return nil, p.errs
	}
	var out []*Profile
	// each reads one profile and gives it the problems found in it.
	each := func(n *yaml.Node, path string) {
		before := len(p.errs)
		prof := p.profile(n, path)
		prof.Errs = append(spec.Errors(nil), p.errs[before:]...)
		out = append(out, prof)
	}
	if list == nil {
		each(top, "")
	} else {
		if len(list.Content) > MaxProfiles {
			p.fail(list, prefix, fmt.Sprintf("%d profiles is more than the %d accepted", len(list.Content), MaxProfiles))
			return nil, p.errs
		}
		for i, n := range list.Content {
			each(n, fmt.Sprintf("%s[%d]", prefix, i))
		}
	}
	if len(out) == 0 {
		return nil, spec.Errors{{File: file, Path: prefix, Msg: "no profile in the list"}}
	}
	return out, nil
}

// Select picks one profile by name (or id); with an empty name the file
// must hold exactly one.
func Select(profiles []*Profile, name string) (*Profile, error) {
	if name == "" {
		if len(profiles) == 1 {
			return profiles[0], nil
		}
		return nil, fmt.Errorf("the file holds %d profiles (%s): choose one by name", len(profiles), profileNames(profiles))
	}
	for _, p := range profiles {
		if p.Name == name || (p.ID != "" && p.ID == name) {
			return p, nil
		}
	}
	return nil, fmt.Errorf("no profile named %q (have: %s)", name, profileNames(profiles))
}

func profileNames(ps []*Profile) string {
	names := make([]string, 0, len(ps))
	for _, p := range ps {
		names = append(names, strconv.Quote(p.Name))
	}
	if len(names) > 10 {
		names = append(names[:10], "...")
	}
	return strings.Join(names, ", ")
}

// parser collects every problem instead of stopping at the first.
type parser struct {
	file string
	errs spec.Errors
}

func (p *parser) fail(n *yaml.Node, path, msg string) {
	p.errs = append(p.errs, &spec.FieldError{File: p.file, Line: n.Line, Path: path, Msg: msg})
}

// field handles one profile field; path is its full path for messages.
type field struct {
	names []string
	set   func(p *parser, n *yaml.Node, path string, prof *Profile)
}

// ignored are Meshery's bookkeeping fields: accepted, not used.
func ignored() []string {
	return []string{"last_run", "lastRun", "schedule", "total_results", "totalResults",
		"created_at", "createdAt", "updated_at", "updatedAt", "user_id", "userId"}
}

func profileFields() []field {
	str := func(dst func(*Profile) *string) func(*parser, *yaml.Node, string, *Profile) {
		return func(p *parser, n *yaml.Node, path string, prof *Profile) {
			if s, ok := p.scalarString(n, path); ok {
				*dst(prof) = s
			}
		}
	}
	list := func(dst func(*Profile) *[]string) func(*parser, *yaml.Node, string, *Profile) {
		return func(p *parser, n *yaml.Node, path string, prof *Profile) {
			*dst(prof) = p.stringList(n, path)
		}
	}
	integer := func(dst func(*Profile) *int64) func(*parser, *yaml.Node, string, *Profile) {
		return func(p *parser, n *yaml.Node, path string, prof *Profile) {
			if v, ok := p.nonNegativeInt(n, path); ok {
				*dst(prof) = v
			}
		}
	}
	smap := func(dst func(*Profile) *map[string]string) func(*parser, *yaml.Node, string, *Profile) {
		return func(p *parser, n *yaml.Node, path string, prof *Profile) {
			*dst(prof) = p.stringMap(n, path)
		}
	}
	return []field{
		{[]string{"id"}, str(func(p *Profile) *string { return &p.ID })},
		{[]string{"name"}, str(func(p *Profile) *string { return &p.Name })},
		{[]string{"endpoints"}, list(func(p *Profile) *[]string { return &p.Endpoints })},
		{[]string{"load_generators", "loadGenerators"}, list(func(p *Profile) *[]string { return &p.LoadGenerators })},
		{[]string{"service_mesh", "serviceMesh"}, str(func(p *Profile) *string { return &p.ServiceMesh })},
		{[]string{"concurrent_request", "concurrentRequest"}, integer(func(p *Profile) *int64 { return &p.ConcurrentRequest })},
		{[]string{"qps"}, integer(func(p *Profile) *int64 { return &p.QPS })},
		{[]string{"duration"}, str(func(p *Profile) *string { return &p.Duration })},
		{[]string{"request_headers", "requestHeaders"}, smap(func(p *Profile) *map[string]string { return &p.RequestHeaders })},
		{[]string{"request_cookies", "requestCookies"}, smap(func(p *Profile) *map[string]string { return &p.RequestCookies })},
		{[]string{"request_body", "requestBody"}, str(func(p *Profile) *string { return &p.RequestBody })},
		{[]string{"content_type", "contentType"}, str(func(p *Profile) *string { return &p.ContentType })},
		{[]string{"metadata"}, func(p *parser, n *yaml.Node, path string, prof *Profile) {
			if isNull(n) {
				return
			}
			if n.Kind != yaml.MappingNode {
				p.fail(n, path, "expected a mapping, found "+kindName(n))
				return
			}
			if v := mapValue(n, "additional_options"); v != nil {
				if s, ok := p.scalarString(v, join(path, "additional_options")); ok {
					prof.AdditionalOptions = s
				}
			}
		}},
	}
}

func (p *parser) profile(n *yaml.Node, path string) *Profile {
	prof := &Profile{File: p.file, Path: path}
	if n.Kind != yaml.MappingNode {
		p.fail(n, path, "expected a profile (a mapping of fields), found "+kindName(n))
		return prof
	}
	byName := map[string]field{}
	var known []string
	for _, f := range profileFields() {
		for _, name := range f.names {
			byName[name] = f
			known = append(known, name)
		}
	}
	skip := map[string]bool{}
	for _, k := range ignored() {
		skip[k] = true
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		fp := join(path, kn.Value)
		if skip[kn.Value] {
			continue
		}
		f, ok := byName[kn.Value]
		if !ok {
			sort.Strings(known)
			p.errs = append(p.errs, &spec.FieldError{File: p.file, Line: kn.Line, Path: fp,
				Msg: fmt.Sprintf("unknown field %q in a Meshery performance profile", kn.Value), Allowed: strings.Join(known, ", ")})
			continue
		}
		f.set(p, vn, fp, prof)
	}
	return prof
}

func (p *parser) scalarString(n *yaml.Node, path string) (string, bool) {
	if isNull(n) {
		return "", true
	}
	if n.Kind != yaml.ScalarNode {
		p.fail(n, path, "expected a string, found "+kindName(n))
		return "", false
	}
	return n.Value, true
}

func (p *parser) stringList(n *yaml.Node, path string) []string {
	if isNull(n) {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		// Meshery's database keeps these as Postgres text[]; a single value
		// written as a string is understood.
		return []string{n.Value}
	}
	if n.Kind != yaml.SequenceNode {
		p.fail(n, path, "expected a list of strings, found "+kindName(n))
		return nil
	}
	out := make([]string, 0, len(n.Content))
	for i, e := range n.Content {
		if s, ok := p.scalarString(e, fmt.Sprintf("%s[%d]", path, i)); ok && s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (p *parser) nonNegativeInt(n *yaml.Node, path string) (int64, bool) {
	if isNull(n) {
		return 0, true
	}
	if n.Kind != yaml.ScalarNode {
		p.fail(n, path, "expected a whole number, found "+kindName(n))
		return 0, false
	}
	v, err := strconv.ParseInt(strings.TrimSpace(n.Value), 10, 64)
	if err != nil {
		// Meshery's UI sends numbers from JSON, which may carry a ".0".
		f, ferr := strconv.ParseFloat(strings.TrimSpace(n.Value), 64)
		if ferr != nil || f != float64(int64(f)) {
			p.errs = append(p.errs, &spec.FieldError{File: p.file, Line: n.Line, Path: path, Value: n.Value, Msg: "expected a whole number"})
			return 0, false
		}
		v = int64(f)
	}
	if v < 0 {
		p.errs = append(p.errs, &spec.FieldError{File: p.file, Line: n.Line, Path: path, Value: n.Value, Msg: "must not be negative"})
		return 0, false
	}
	return v, true
}

// stringMap reads headers or cookies: Meshery stores them as a JSON object
// in a string; a YAML/JSON mapping is accepted too.
func (p *parser) stringMap(n *yaml.Node, path string) map[string]string {
	if isNull(n) {
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		out := map[string]string{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if s, ok := p.scalarString(v, join(path, k.Value)); ok {
				out[k.Value] = s
			}
		}
		return out
	case yaml.ScalarNode:
		s := strings.TrimSpace(n.Value)
		if s == "" {
			return nil
		}
		var raw map[string]any
		if err := json.Unmarshal([]byte(s), &raw); err != nil {
			p.errs = append(p.errs, &spec.FieldError{File: p.file, Line: n.Line, Path: path, Value: n.Value,
				Msg: "expected a JSON object such as {\"Name\": \"value\"}: " + err.Error()})
			return nil
		}
		out := make(map[string]string, len(raw))
		for k, v := range raw {
			switch v := v.(type) {
			case string:
				out[k] = v
			case float64, bool:
				out[k] = fmt.Sprint(v)
			default:
				p.errs = append(p.errs, &spec.FieldError{File: p.file, Line: n.Line, Path: join(path, k),
					Msg: "expected a string value"})
			}
		}
		return out
	}
	p.fail(n, path, "expected a JSON object string or a mapping, found "+kindName(n))
	return nil
}

// Config converts the profile to an SMP test config. Notes say what was
// understood differently from Meshery or not kept. Problems are returned as
// spec.Errors naming the profile field.
func (prof *Profile) Config() (cfg *spec.PerformanceTestConfig, notes []string, err error) {
	var errs spec.Errors
	bad := func(field, value, msg, allowed string) {
		errs = append(errs, &spec.FieldError{File: prof.File, Path: join(prof.Path, field), Value: value, Msg: msg, Allowed: allowed})
	}
	if len(prof.Endpoints) == 0 {
		bad("endpoints", "", "a profile needs at least one endpoint URL", "")
	}
	protocol := spec.PerformanceTestConfig_Client_PROTOCOL_INVALID
	for i, e := range prof.Endpoints {
		u, perr := url.Parse(e)
		if perr != nil || !u.IsAbs() || u.Host == "" {
			bad(fmt.Sprintf("endpoints[%d]", i), e, "not an absolute URL", "http://host:port/path")
			continue
		}
		pr := spec.ProtocolForScheme(u.Scheme)
		if pr != spec.PerformanceTestConfig_Client_PROTOCOL_HTTP && pr != spec.PerformanceTestConfig_Client_PROTOCOL_GRPC {
			bad(fmt.Sprintf("endpoints[%d]", i), e, "Meshery profiles test HTTP or gRPC endpoints", "http, https, grpc, grpcs URLs")
			continue
		}
		if protocol == spec.PerformanceTestConfig_Client_PROTOCOL_INVALID {
			protocol = pr
		} else if pr != protocol {
			bad(fmt.Sprintf("endpoints[%d]", i), e, "mixes protocols with endpoints[0]; split the profile", "")
		}
	}
	if prof.Duration != "" {
		d, derr := time.ParseDuration(prof.Duration)
		switch {
		case derr != nil:
			bad("duration", prof.Duration, "not a duration", "a Go duration such as 30s, 5m or 1h30m")
		case d <= 0:
			bad("duration", prof.Duration, "must be positive", "")
		case d > spec.MaxDuration:
			bad("duration", prof.Duration, fmt.Sprintf("longer than %s", spec.MaxDuration), "")
		}
	} else {
		notes = append(notes, "duration: not set in the profile; the config uses 30s")
	}
	if prof.ConcurrentRequest > spec.MaxConnections {
		bad("concurrent_request", strconv.FormatInt(prof.ConcurrentRequest, 10), fmt.Sprintf("more than %d", spec.MaxConnections), "")
	}
	if prof.QPS > spec.MaxRPS {
		bad("qps", strconv.FormatInt(prof.QPS, 10), fmt.Sprintf("more than %d", spec.MaxRPS), "")
	}
	mesh, meshNote, merr := meshType(prof.ServiceMesh)
	if merr != nil {
		bad("service_mesh", prof.ServiceMesh, merr.Error(), meshNames())
	}
	if meshNote != "" {
		notes = append(notes, meshNote)
	}
	if len(errs) > 0 {
		return nil, notes, errs
	}

	client := &spec.PerformanceTestConfig_Client{
		Protocol:          protocol,
		Connections:       int32(prof.ConcurrentRequest),
		Rps:               prof.QPS,
		Headers:           prof.RequestHeaders,
		Cookies:           prof.RequestCookies,
		Body:              prof.RequestBody,
		ContentType:       prof.ContentType,
		EndpointUrls:      append([]string(nil), prof.Endpoints...),
		AdditionalOptions: prof.AdditionalOptions,
	}
	if client.Connections == 0 {
		// Meshery raises fewer than one connection to one.
		client.Connections = 1
		notes = append(notes, "concurrent_request: 0 or missing; Meshery uses 1 connection, and so does the config")
	}
	if len(prof.LoadGenerators) > 0 {
		client.LoadGenerator = prof.LoadGenerators[0]
		if len(prof.LoadGenerators) > 1 {
			notes = append(notes, fmt.Sprintf("load_generators: %s listed; the config names %q (smp generates the load itself)",
				strings.Join(prof.LoadGenerators, ", "), client.LoadGenerator))
		}
	}
	if len(prof.Endpoints) > 1 {
		notes = append(notes, fmt.Sprintf("endpoints: Meshery tests only the first of %d endpoints; smp tests every one", len(prof.Endpoints)))
	}
	duration := prof.Duration
	if duration == "" {
		duration = "30s"
	}
	cfg = &spec.PerformanceTestConfig{
		Id:       prof.ID,
		Name:     prof.Name,
		Duration: duration,
		Clients:  []*spec.PerformanceTestConfig_Client{client},
	}
	if mesh != spec.ServiceMesh_INVALID_MESH {
		cfg.Mesh = &spec.ServiceMesh{Type: mesh}
	}
	return cfg, notes, nil
}

// meshAliases maps the names Meshery writes for meshes to SMP's enum names.
func meshAliases() map[string]string {
	return map[string]string{
		"OSM":                "OPEN_SERVICE_MESH",
		"NSM":                "NETWORK_SERVICE_MESH",
		"APPMESH":            "APP_MESH",
		"AWS_APP_MESH":       "APP_MESH",
		"TRAEFIK":            "TRAEFIK_MESH",
		"MAESH":              "TRAEFIK_MESH",
		"NGINX":              "NGINX_SERVICE_MESH",
		"NGINX_SM":           "NGINX_SERVICE_MESH",
		"CILIUM":             "CILIUM_SERVICE_MESH",
		"TANZU_SM":           "TANZU",
		"TANZU_SERVICE_MESH": "TANZU",
		"CONSUL_CONNECT":     "CONSUL",
	}
}

// meshType maps Meshery's service_mesh string to the SMP enum. "None" and
// "" mean no mesh (a baseline).
func meshType(s string) (spec.ServiceMesh_Type, string, error) {
	n := strings.ToUpper(strings.TrimSpace(s))
	n = strings.NewReplacer("-", "_", " ", "_").Replace(n)
	switch n {
	case "", "NONE", "NO_MESH", "BASELINE":
		return spec.ServiceMesh_INVALID_MESH, "", nil
	}
	if a, ok := meshAliases()[n]; ok {
		n = a
	}
	if v, ok := spec.ServiceMesh_Type_value[n]; ok && v != 0 {
		return spec.ServiceMesh_Type(v), "", nil
	}
	return 0, "", fmt.Errorf("unknown service mesh")
}

func meshNames() string {
	var names []string
	for name, v := range spec.ServiceMesh_Type_value {
		if v != 0 {
			names = append(names, strings.ToLower(name))
		}
	}
	sort.Strings(names)
	return strings.Join(append(names, "none"), ", ")
}

func documentRoot(n *yaml.Node) *yaml.Node {
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return nil
		}
		return n.Content[0]
	}
	if n.Kind == 0 {
		return nil
	}
	return n
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		return fmt.Sprintf("the value %q", n.Value)
	}
	return "nothing"
}

func join(path, field string) string {
	if path == "" {
		return field
	}
	return path + "." + field
}
