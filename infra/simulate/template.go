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
	var s Scaling
	var found struct{ target, tracking, task bool }
	ids := make([]string, 0, len(tpl.Resources))
	for id := range tpl.Resources {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	alarms := map[string]alarm{} // by the policy they act on
	var steps map[string]stepPolicy
	for _, id := range ids {
		r := tpl.Resources[id]
		switch r.Type {
		case "AWS::ApplicationAutoScaling::ScalableTarget":
			var p struct{ MinCapacity, MaxCapacity int }
			if err := json.Unmarshal(r.Properties, &p); err != nil {
				return s, fmt.Errorf("%s: %w", id, err)
			}
			s.MinTasks, s.MaxTasks, found.target = p.MinCapacity, p.MaxCapacity, true
		case "AWS::ApplicationAutoScaling::ScalingPolicy":
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
			if err := json.Unmarshal(r.Properties, &p); err != nil {
				return s, fmt.Errorf("%s: %w", id, err)
			}
			switch p.PolicyType {
			case "TargetTrackingScaling":
				if found.tracking {
					return s, fmt.Errorf("%s: a second target-tracking policy", id)
				}
				expr := ""
				for _, m := range p.TT.CustomizedMetricSpecification.Metrics {
					if m.Expression != "" {
						expr = m.Expression
					}
				}
				if expr != stack.BacklogPerTaskExpression {
					return s, fmt.Errorf("%s: target tracking on %q; the simulator models %q", id, expr, stack.BacklogPerTaskExpression)
				}
				s.Target, s.ScaleOutCooldown, s.ScaleInCooldown = p.TT.TargetValue, p.TT.ScaleOutCooldown, p.TT.ScaleInCooldown
				found.tracking = true
			case "StepScaling":
				if steps == nil {
					steps = map[string]stepPolicy{}
				}
				steps[id] = *p.Step
			}
		case "AWS::CloudWatch::Alarm":
			var a alarm
			if err := json.Unmarshal(r.Properties, &a); err != nil {
				return s, fmt.Errorf("%s: %w", id, err)
			}
			for _, act := range a.AlarmActions {
				if ref, ok := act["Ref"]; ok {
					alarms[ref] = a
				}
			}
		case "AWS::ECS::TaskDefinition":
			var p struct {
				Cpu, Memory          string
				ContainerDefinitions []struct {
					Environment []struct {
						Name  string
						Value any // a string, or a reference resolved at deploy time
					}
				}
			}
			if err := json.Unmarshal(r.Properties, &p); err != nil {
				return s, fmt.Errorf("%s: %w", id, err)
			}
			s.CPU, _ = strconv.Atoi(p.Cpu)
			s.MemoryMiB, _ = strconv.Atoi(p.Memory)
			for _, c := range p.ContainerDefinitions {
				for _, e := range c.Environment {
					if v, ok := e.Value.(string); ok && e.Name == config.EnvConcurrency {
						s.Concurrency, _ = strconv.Atoi(v)
					}
				}
			}
			found.task = true
		}
	}
	for id, p := range steps {
		a, ok := alarms[id]
		if !ok {
			return s, fmt.Errorf("step policy %s: no alarm acts on it", id)
		}
		w, err := p.wake(a)
		if err != nil {
			return s, fmt.Errorf("step policy %s: %w", id, err)
		}
		if s.Wake != nil {
			return s, fmt.Errorf("step policy %s: a second step policy", id)
		}
		s.Wake = w
	}
	switch {
	case !found.target || !found.tracking || !found.task:
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
