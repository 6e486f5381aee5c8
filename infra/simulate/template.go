package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strconv"

	"github.com/thumbq/thumbq/infra/stack"
	"github.com/thumbq/thumbq/worker/config"
)

// Scaling is what the simulator takes from a synthesized template: the scalable target's bounds,
// the target-tracking policy, the optional step policy that starts the first task, and the task's
// size, from which its throughput and price follow.
type Scaling struct {
	MinTasks, MaxTasks int

	Target           float64 // backlog per task the target-tracking policy holds
	ScaleOutCooldown int     // seconds
	ScaleInCooldown  int     // seconds

	// The step policy from zero (absent when MinTasks > 0): the alarm's threshold and evaluation
	// periods, and the exact capacity of each step (lower bounds in absolute metric values).
	Wake *Wake

	CPU         int // task CPU units (1024 = 1 vCPU)
	MemoryMiB   int
	Concurrency int
}

// Wake is the step policy that starts tasks from zero.
type Wake struct {
	Threshold         float64
	EvaluationPeriods int
	Cooldown          int
	Steps             []Step // by Lower, ascending
}

// Step sets the capacity to Tasks when the metric is at least Lower.
type Step struct {
	Lower float64
	Tasks int
}

// ReadScaling reads a synthesized template (cdk synth's, or the committed snapshot the stack's
// tests keep equal to it). It refuses a template whose scaling expressions are not the ones this
// simulator models (stack.BacklogPerTaskExpression, stack.WakeExpression).
func ReadScaling(path string) (Scaling, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Scaling{}, err
	}
	var tpl struct {
		Resources map[string]struct {
			Type       string
			Properties json.RawMessage
		}
	}
	if err := json.Unmarshal(b, &tpl); err != nil {
		return Scaling{}, fmt.Errorf("%s: %w", path, err)
	}
	ids := make([]string, 0, len(tpl.Resources))
	for id := range tpl.Resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	rd := scalingReader{alarms: map[string]alarm{}}
	for _, id := range ids {
		r := tpl.Resources[id]
		if err := rd.read(id, r.Type, r.Properties); err != nil {
			return rd.s, err
		}
	}
	if err := rd.readWake(); err != nil {
		return rd.s, err
	}
	return rd.finish(path)
}

// scalingReader gathers a Scaling from a template's resources, read in the order of their ids.
type scalingReader struct {
	s      Scaling
	found  struct{ target, tracking, task bool }
	alarms map[string]alarm      // by the policy they act on
	steps  map[string]stepPolicy // by id
}

// read takes what the simulator models from one resource; other types are ignored.
func (rd *scalingReader) read(id, typ string, props json.RawMessage) error {
	var err error
	switch typ {
	case "AWS::ApplicationAutoScaling::ScalableTarget":
		var p struct{ MinCapacity, MaxCapacity int }
		if err = json.Unmarshal(props, &p); err == nil {
			rd.s.MinTasks, rd.s.MaxTasks, rd.found.target = p.MinCapacity, p.MaxCapacity, true
		}
	case "AWS::ApplicationAutoScaling::ScalingPolicy":
		return rd.readPolicy(id, props)
	case "AWS::CloudWatch::Alarm":
		var a alarm
		if err = json.Unmarshal(props, &a); err == nil {
			for _, act := range a.AlarmActions {
				if ref, ok := act["Ref"]; ok {
					rd.alarms[ref] = a
				}
			}
		}
	case "AWS::ECS::TaskDefinition":
		err = rd.readTask(props)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	return nil
}

// readPolicy takes the target-tracking policy, which must track stack.BacklogPerTaskExpression,
// and keeps step policies for readWake.
func (rd *scalingReader) readPolicy(id string, props json.RawMessage) error {
	var p struct {
		PolicyType string
		TT         *struct {
			TargetValue                       float64
			ScaleOutCooldown, ScaleInCooldown int
			CustomizedMetricSpecification     struct {
				Metrics []struct{ Id, Expression string }
			}
		} `json:"TargetTrackingScalingPolicyConfiguration"`
		Step *stepPolicy `json:"StepScalingPolicyConfiguration"`
	}
	if err := json.Unmarshal(props, &p); err != nil {
		return fmt.Errorf("%s: %w", id, err)
	}
	switch p.PolicyType {
	case "TargetTrackingScaling":
		if rd.found.tracking {
			return fmt.Errorf("%s: a second target-tracking policy", id)
		}
		expr := ""
		for _, m := range p.TT.CustomizedMetricSpecification.Metrics {
			if m.Expression != "" {
				expr = m.Expression
			}
		}
		if expr != stack.BacklogPerTaskExpression {
			return fmt.Errorf("%s: target tracking on %q; the simulator models %q", id, expr, stack.BacklogPerTaskExpression)
		}
		rd.s.Target, rd.s.ScaleOutCooldown, rd.s.ScaleInCooldown = p.TT.TargetValue, p.TT.ScaleOutCooldown, p.TT.ScaleInCooldown
		rd.found.tracking = true
	case "StepScaling":
		if rd.steps == nil {
			rd.steps = map[string]stepPolicy{}
		}
		rd.steps[id] = *p.Step
	}
	return nil
}

// readTask takes the task's CPU, memory and the worker's concurrency from its environment.
func (rd *scalingReader) readTask(props json.RawMessage) error {
	var p struct {
		Cpu, Memory          string
		ContainerDefinitions []struct {
			Environment []struct {
				Name  string
				Value any // a string, or a reference resolved at deploy time
			}
		}
	}
	if err := json.Unmarshal(props, &p); err != nil {
		return err
	}
	rd.s.CPU, _ = strconv.Atoi(p.Cpu)
	rd.s.MemoryMiB, _ = strconv.Atoi(p.Memory)
	for _, c := range p.ContainerDefinitions {
		for _, e := range c.Environment {
			if v, ok := e.Value.(string); ok && e.Name == config.EnvConcurrency {
				rd.s.Concurrency, _ = strconv.Atoi(v)
			}
		}
	}
	rd.found.task = true
	return nil
}

// readWake pairs the step policy, if any, with the alarm that acts on it.
func (rd *scalingReader) readWake() error {
	for id, p := range rd.steps {
		a, ok := rd.alarms[id]
		if !ok {
			return fmt.Errorf("step policy %s: no alarm acts on it", id)
		}
		w, err := p.wake(a)
		if err != nil {
			return fmt.Errorf("step policy %s: %w", id, err)
		}
		if rd.s.Wake != nil {
			return fmt.Errorf("step policy %s: a second step policy", id)
		}
		rd.s.Wake = w
	}
	return nil
}

// finish checks that the template had everything the simulator needs.
func (rd *scalingReader) finish(path string) (Scaling, error) {
	s := rd.s
	switch {
	case !rd.found.target || !rd.found.tracking || !rd.found.task:
		return s, fmt.Errorf("%s: want a scalable target, a target-tracking policy and a task definition", path)
	case s.MinTasks == 0 && s.Wake == nil:
		return s, fmt.Errorf("%s: a minimum of 0 tasks and no step policy to leave it", path)
	case s.CPU == 0 || s.MemoryMiB == 0:
		return s, fmt.Errorf("%s: the task definition has no CPU or memory", path)
	}
	if s.Concurrency == 0 {
		s.Concurrency = 1
	}
	return s, nil
}

type alarm struct {
	AlarmActions       []map[string]string
	ComparisonOperator string
	EvaluationPeriods  int
	Threshold          float64
	Metrics            []struct{ Expression string }
}

type stepPolicy struct {
	AdjustmentType  string
	Cooldown        int
	StepAdjustments []struct {
		MetricIntervalLowerBound *float64
		MetricIntervalUpperBound *float64
		ScalingAdjustment        int
	}
}

func (p stepPolicy) wake(a alarm) (*Wake, error) {
	expr := ""
	for _, m := range a.Metrics {
		if m.Expression != "" {
			expr = m.Expression
		}
	}
	switch {
	case expr != stack.WakeExpression:
		return nil, fmt.Errorf("alarm on %q; the simulator models %q", expr, stack.WakeExpression)
	case p.AdjustmentType != "ExactCapacity":
		return nil, fmt.Errorf("adjustment type %s; the simulator models ExactCapacity", p.AdjustmentType)
	case a.ComparisonOperator != "GreaterThanOrEqualToThreshold":
		return nil, fmt.Errorf("alarm comparison %s; the simulator models GreaterThanOrEqualToThreshold", a.ComparisonOperator)
	}
	w := &Wake{Threshold: a.Threshold, EvaluationPeriods: max(a.EvaluationPeriods, 1), Cooldown: p.Cooldown}
	for _, st := range p.StepAdjustments {
		lower := math.Inf(-1)
		if st.MetricIntervalLowerBound != nil {
			lower = a.Threshold + *st.MetricIntervalLowerBound
		}
		w.Steps = append(w.Steps, Step{Lower: lower, Tasks: st.ScalingAdjustment})
	}
	sort.Slice(w.Steps, func(i, j int) bool { return w.Steps[i].Lower < w.Steps[j].Lower })
	return w, nil
}
