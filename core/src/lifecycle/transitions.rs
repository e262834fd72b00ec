//! The transition table: the one place that says how a project's phase moves. Read it top to
//! bottom: for each phase, each step (a lifecycle input that can move a phase) and each guard
//! value, where the project goes and what finding the step raises. Every (phase, step, guard)
//! combination has exactly one row; a test checks that. A step the documented lifecycle does not
//! allow stays in place and raises a finding (h11's rule: the state stays where it was).
//!
//! Steps are applied in `(at, evidence)` order, whatever order the queue delivered them in.
//! `cvnotify diagram` renders this table; the README embeds the Mermaid form.

use alloc::string::String;
use core::fmt::Write as _;

use super::finding::FindingCode;

/// Where a project is in its lifecycle. The phase follows the latest step: training a second
/// iteration moves an `Exported` project back to `Training`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    /// Storage configured (CreateProject/UpdateProject with the URIs), no connection test yet.
    Configured,
    /// The `ConnectionTest` notification arrived.
    ConnectionTested,
    /// TrainProject returned an iteration; no outcome yet.
    Training,
    /// `TrainingCompleted` arrived.
    Trained,
    /// `TrainingFailed` arrived.
    TrainingFailed,
    /// `ExportCompleted` arrived.
    Exported,
    /// `ExportFailed` arrived.
    ExportFailed,
}

impl Phase {
    /// Every phase, in lifecycle order.
    pub const ALL: [Self; 7] = [
        Self::Configured,
        Self::ConnectionTested,
        Self::Training,
        Self::Trained,
        Self::TrainingFailed,
        Self::Exported,
        Self::ExportFailed,
    ];

    /// The name used in reports and diagrams.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Configured => "Configured",
            Self::ConnectionTested => "ConnectionTested",
            Self::Training => "Training",
            Self::Trained => "Trained",
            Self::TrainingFailed => "TrainingFailed",
            Self::Exported => "Exported",
            Self::ExportFailed => "ExportFailed",
        }
    }
}

/// A lifecycle input that can move a phase. Polls, blobs and rejections do not: they are checked
/// against the steps by the findings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// CreateProject/UpdateProject succeeded with storage settings.
    Configure,
    /// A `ConnectionTest` notification.
    ConnectionTest,
    /// TrainProject returned an iteration.
    TrainRequest,
    /// A `Training` notification with `TrainingCompleted`.
    TrainingCompleted,
    /// A `Training` notification with `TrainingFailed`.
    TrainingFailed,
    /// ExportIteration was accepted.
    ExportRequest,
    /// An `Export` notification with `ExportCompleted`.
    ExportCompleted,
    /// An `Export` notification with `ExportFailed`.
    ExportFailed,
}

impl Step {
    /// Every step.
    pub const ALL: [Self; 8] = [
        Self::Configure,
        Self::ConnectionTest,
        Self::TrainRequest,
        Self::TrainingCompleted,
        Self::TrainingFailed,
        Self::ExportRequest,
        Self::ExportCompleted,
        Self::ExportFailed,
    ];

    /// The name used in diagrams.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Configure => "Configure",
            Self::ConnectionTest => "ConnectionTest",
            Self::TrainRequest => "TrainRequest",
            Self::TrainingCompleted => "TrainingCompleted",
            Self::TrainingFailed => "TrainingFailed",
            Self::ExportRequest => "ExportRequest",
            Self::ExportCompleted => "ExportCompleted",
            Self::ExportFailed => "ExportFailed",
        }
    }

    /// The guard values a step is judged under (one row each).
    pub const fn guards(self) -> &'static [Guard] {
        match self {
            Self::ConnectionTest => &[Guard::FirstSinceConfigure, Guard::RepeatSinceConfigure],
            Self::TrainingCompleted | Self::TrainingFailed => {
                &[Guard::Requested, Guard::NotRequested]
            }
            Self::ExportCompleted | Self::ExportFailed => {
                &[Guard::TrainedBefore, Guard::NotTrainedBefore]
            }
            Self::Configure | Self::TrainRequest | Self::ExportRequest => &[Guard::Always],
        }
    }
}

/// A condition on the facts around a step, computed before the table is consulted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Guard {
    /// No condition.
    Always,
    /// The first `ConnectionTest` message since the latest configuration.
    FirstSinceConfigure,
    /// Another `ConnectionTest` message since the latest configuration.
    RepeatSinceConfigure,
    /// TrainProject returned this iteration (or the training API is not observed).
    Requested,
    /// The training API is observed and never returned this iteration (started in the portal).
    NotRequested,
    /// The iteration's training completed earlier (a `TrainingCompleted` notification or
    /// GetIteration `Completed` with an earlier `at`).
    TrainedBefore,
    /// No earlier evidence that the iteration's training completed.
    NotTrainedBefore,
}

impl Guard {
    /// The name used in diagrams.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Always => "",
            Self::FirstSinceConfigure => "first",
            Self::RepeatSinceConfigure => "repeat",
            Self::Requested => "requested",
            Self::NotRequested => "not requested",
            Self::TrainedBefore => "trained",
            Self::NotTrainedBefore => "not trained",
        }
    }
}

/// Where a step leads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Next {
    /// To this phase.
    To(Phase),
    /// The phase stays as it was.
    Stay,
}

/// One row of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    /// The phase the project is in.
    pub from: Phase,
    /// The step.
    pub step: Step,
    /// The guard value.
    pub guard: Guard,
    /// Where it goes.
    pub next: Next,
    /// The finding the step raises, if any.
    pub finding: Option<FindingCode>,
}

use FindingCode as F;
use Guard as G;
use Next::{Stay, To};
use Phase as P;
use Step as S;

const fn r(from: Phase, step: Step, guard: Guard, next: Next, finding: Option<FindingCode>) -> Row {
    Row {
        from,
        step,
        guard,
        next,
        finding,
    }
}

/// The table: phase, step, guard, where the project goes, what finding the step raises.
#[rustfmt::skip]
pub const TABLE: [Row; 91] = [
    // ---- Configured --------------------------------------------------------------------------
    r(P::Configured, S::Configure, G::Always, To(P::Configured), None),
    r(P::Configured, S::ConnectionTest, G::FirstSinceConfigure, To(P::ConnectionTested), None),
    r(P::Configured, S::ConnectionTest, G::RepeatSinceConfigure, Stay, Some(F::ConnectionTestRepeated)),
    r(P::Configured, S::TrainRequest, G::Always, To(P::Training), None),
    r(P::Configured, S::TrainingCompleted, G::Requested, To(P::Trained), None),
    r(P::Configured, S::TrainingCompleted, G::NotRequested, To(P::Trained), Some(F::TrainingNotRequested)),
    r(P::Configured, S::TrainingFailed, G::Requested, To(P::TrainingFailed), None),
    r(P::Configured, S::TrainingFailed, G::NotRequested, To(P::TrainingFailed), Some(F::TrainingNotRequested)),
    r(P::Configured, S::ExportRequest, G::Always, Stay, None),
    r(P::Configured, S::ExportCompleted, G::TrainedBefore, To(P::Exported), None),
    r(P::Configured, S::ExportCompleted, G::NotTrainedBefore, Stay, Some(F::ExportOfUntrainedIteration)),
    r(P::Configured, S::ExportFailed, G::TrainedBefore, To(P::ExportFailed), None),
    r(P::Configured, S::ExportFailed, G::NotTrainedBefore, Stay, Some(F::ExportOfUntrainedIteration)),
    // ---- ConnectionTested --------------------------------------------------------------------
    r(P::ConnectionTested, S::Configure, G::Always, To(P::Configured), None),
    r(P::ConnectionTested, S::ConnectionTest, G::FirstSinceConfigure, Stay, None),
    r(P::ConnectionTested, S::ConnectionTest, G::RepeatSinceConfigure, Stay, Some(F::ConnectionTestRepeated)),
    r(P::ConnectionTested, S::TrainRequest, G::Always, To(P::Training), None),
    r(P::ConnectionTested, S::TrainingCompleted, G::Requested, To(P::Trained), None),
    r(P::ConnectionTested, S::TrainingCompleted, G::NotRequested, To(P::Trained), Some(F::TrainingNotRequested)),
    r(P::ConnectionTested, S::TrainingFailed, G::Requested, To(P::TrainingFailed), None),
    r(P::ConnectionTested, S::TrainingFailed, G::NotRequested, To(P::TrainingFailed), Some(F::TrainingNotRequested)),
    r(P::ConnectionTested, S::ExportRequest, G::Always, Stay, None),
    r(P::ConnectionTested, S::ExportCompleted, G::TrainedBefore, To(P::Exported), None),
    r(P::ConnectionTested, S::ExportCompleted, G::NotTrainedBefore, Stay, Some(F::ExportOfUntrainedIteration)),
    r(P::ConnectionTested, S::ExportFailed, G::TrainedBefore, To(P::ExportFailed), None),
    r(P::ConnectionTested, S::ExportFailed, G::NotTrainedBefore, Stay, Some(F::ExportOfUntrainedIteration)),
    // ---- Training ----------------------------------------------------------------------------
    r(P::Training, S::Configure, G::Always, To(P::Configured), None),
    r(P::Training, S::ConnectionTest, G::FirstSinceConfigure, Stay, None),
    r(P::Training, S::ConnectionTest, G::RepeatSinceConfigure, Stay, Some(F::ConnectionTestRepeated)),
    r(P::Training, S::TrainRequest, G::Always, To(P::Training), None),
    r(P::Training, S::TrainingCompleted, G::Requested, To(P::Trained), None),
    r(P::Training, S::TrainingCompleted, G::NotRequested, To(P::Trained), Some(F::TrainingNotRequested)),
    r(P::Training, S::TrainingFailed, G::Requested, To(P::TrainingFailed), None),
    r(P::Training, S::TrainingFailed, G::NotRequested, To(P::TrainingFailed), Some(F::TrainingNotRequested)),
    r(P::Training, S::ExportRequest, G::Always, Stay, None),
    r(P::Training, S::ExportCompleted, G::TrainedBefore, To(P::Exported), None),
    r(P::Training, S::ExportCompleted, G::NotTrainedBefore, Stay, Some(F::ExportOfUntrainedIteration)),
    r(P::Training, S::ExportFailed, G::TrainedBefore, To(P::ExportFailed), None),
    r(P::Training, S::ExportFailed, G::NotTrainedBefore, Stay, Some(F::ExportOfUntrainedIteration)),
    // ---- Trained -----------------------------------------------------------------------------
    r(P::Trained, S::Configure, G::Always, To(P::Configured), None),
    r(P::Trained, S::ConnectionTest, G::FirstSinceConfigure, Stay, None),
    r(P::Trained, S::ConnectionTest, G::RepeatSinceConfigure, Stay, Some(F::ConnectionTestRepeated)),
    r(P::Trained, S::TrainRequest, G::Always, To(P::Training), None),
    r(P::Trained, S::TrainingCompleted, G::Requested, To(P::Trained), None),
    r(P::Trained, S::TrainingCompleted, G::NotRequested, To(P::Trained), Some(F::TrainingNotRequested)),
    r(P::Trained, S::TrainingFailed, G::Requested, To(P::TrainingFailed), None),
    r(P::Trained, S::TrainingFailed, G::NotRequested, To(P::TrainingFailed), Some(F::TrainingNotRequested)),
    r(P::Trained, S::ExportRequest, G::Always, Stay, None),
    r(P::Trained, S::ExportCompleted, G::TrainedBefore, To(P::Exported), None),
    r(P::Trained, S::ExportCompleted, G::NotTrainedBefore, Stay, Some(F::ExportOfUntrainedIteration)),
    r(P::Trained, S::ExportFailed, G::TrainedBefore, To(P::ExportFailed), None),
    r(P::Trained, S::ExportFailed, G::NotTrainedBefore, Stay, Some(F::ExportOfUntrainedIteration)),
    // ---- TrainingFailed ----------------------------------------------------------------------
    r(P::TrainingFailed, S::Configure, G::Always, To(P::Configured), None),
    r(P::TrainingFailed, S::ConnectionTest, G::FirstSinceConfigure, Stay, None),
    r(P::TrainingFailed, S::ConnectionTest, G::RepeatSinceConfigure, Stay, Some(F::ConnectionTestRepeated)),
    r(P::TrainingFailed, S::TrainRequest, G::Always, To(P::Training), None),
    r(P::TrainingFailed, S::TrainingCompleted, G::Requested, To(P::Trained), None),
    r(P::TrainingFailed, S::TrainingCompleted, G::NotRequested, To(P::Trained), Some(F::TrainingNotRequested)),
    r(P::TrainingFailed, S::TrainingFailed, G::Requested, To(P::TrainingFailed), None),
    r(P::TrainingFailed, S::TrainingFailed, G::NotRequested, To(P::TrainingFailed), Some(F::TrainingNotRequested)),
    r(P::TrainingFailed, S::ExportRequest, G::Always, Stay, None),
    r(P::TrainingFailed, S::ExportCompleted, G::TrainedBefore, To(P::Exported), None),
    r(P::TrainingFailed, S::ExportCompleted, G::NotTrainedBefore, Stay, Some(F::ExportOfUntrainedIteration)),
    r(P::TrainingFailed, S::ExportFailed, G::TrainedBefore, To(P::ExportFailed), None),
    r(P::TrainingFailed, S::ExportFailed, G::NotTrainedBefore, Stay, Some(F::ExportOfUntrainedIteration)),
    // ---- Exported ----------------------------------------------------------------------------
    r(P::Exported, S::Configure, G::Always, To(P::Configured), None),
    r(P::Exported, S::ConnectionTest, G::FirstSinceConfigure, Stay, None),
    r(P::Exported, S::ConnectionTest, G::RepeatSinceConfigure, Stay, Some(F::ConnectionTestRepeated)),
    r(P::Exported, S::TrainRequest, G::Always, To(P::Training), None),
    r(P::Exported, S::TrainingCompleted, G::Requested, To(P::Trained), None),
    r(P::Exported, S::TrainingCompleted, G::NotRequested, To(P::Trained), Some(F::TrainingNotRequested)),
    r(P::Exported, S::TrainingFailed, G::Requested, To(P::TrainingFailed), None),
    r(P::Exported, S::TrainingFailed, G::NotRequested, To(P::TrainingFailed), Some(F::TrainingNotRequested)),
    r(P::Exported, S::ExportRequest, G::Always, Stay, None),
    r(P::Exported, S::ExportCompleted, G::TrainedBefore, To(P::Exported), None),
    r(P::Exported, S::ExportCompleted, G::NotTrainedBefore, Stay, Some(F::ExportOfUntrainedIteration)),
    r(P::Exported, S::ExportFailed, G::TrainedBefore, To(P::ExportFailed), None),
    r(P::Exported, S::ExportFailed, G::NotTrainedBefore, Stay, Some(F::ExportOfUntrainedIteration)),
    // ---- ExportFailed ------------------------------------------------------------------------
    r(P::ExportFailed, S::Configure, G::Always, To(P::Configured), None),
    r(P::ExportFailed, S::ConnectionTest, G::FirstSinceConfigure, Stay, None),
    r(P::ExportFailed, S::ConnectionTest, G::RepeatSinceConfigure, Stay, Some(F::ConnectionTestRepeated)),
    r(P::ExportFailed, S::TrainRequest, G::Always, To(P::Training), None),
    r(P::ExportFailed, S::TrainingCompleted, G::Requested, To(P::Trained), None),
    r(P::ExportFailed, S::TrainingCompleted, G::NotRequested, To(P::Trained), Some(F::TrainingNotRequested)),
    r(P::ExportFailed, S::TrainingFailed, G::Requested, To(P::TrainingFailed), None),
    r(P::ExportFailed, S::TrainingFailed, G::NotRequested, To(P::TrainingFailed), Some(F::TrainingNotRequested)),
    r(P::ExportFailed, S::ExportRequest, G::Always, Stay, None),
    r(P::ExportFailed, S::ExportCompleted, G::TrainedBefore, To(P::Exported), None),
    r(P::ExportFailed, S::ExportCompleted, G::NotTrainedBefore, Stay, Some(F::ExportOfUntrainedIteration)),
    r(P::ExportFailed, S::ExportFailed, G::TrainedBefore, To(P::ExportFailed), None),
    r(P::ExportFailed, S::ExportFailed, G::NotTrainedBefore, Stay, Some(F::ExportOfUntrainedIteration)),
];

/// The row for a phase, step and guard. `None` only if the table had a hole, which the totality
/// test rules out.
pub fn lookup(from: Phase, step: Step, guard: Guard) -> Option<&'static Row> {
    TABLE
        .iter()
        .find(|r| r.from == from && r.step == step && r.guard == guard)
}

/// Every row, in table order.
pub fn rows() -> impl Iterator<Item = &'static Row> {
    TABLE.iter()
}

fn label(r: &Row) -> String {
    let mut s = String::from(r.step.as_str());
    if !r.guard.as_str().is_empty() {
        let _ = write!(s, " [{}]", r.guard.as_str());
    }
    if let Some(f) = r.finding {
        let _ = write!(s, " / {}", f.as_str());
    }
    s
}

/// A node of the rendered diagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Node {
    /// Any phase: rows that are the same in every phase are drawn once, from here.
    Any,
    /// One phase.
    Phase(Phase),
}

impl Node {
    const fn name(self) -> &'static str {
        match self {
            Self::Any => "AnyPhase",
            Self::Phase(p) => p.as_str(),
        }
    }
}

/// Whether a (step, guard) does the same in every phase: the same target (or staying) and the
/// same finding.
fn uniform(step: Step, guard: Guard) -> bool {
    let outcome = |r: &Row| (r.next, r.finding);
    let mut matching = rows().filter(|r| r.step == step && r.guard == guard);
    let first = matching.next().map(outcome);
    matching.all(|r| Some(outcome(r)) == first)
}

/// The edges worth drawing, with rows that share an edge merged into one label: rows that are
/// the same in every phase once from [`Node::Any`]; the other rows from their phase, except
/// those that neither move nor raise a finding.
fn edges() -> alloc::vec::Vec<(Node, Node, String)> {
    let mut edges: alloc::vec::Vec<(Node, Node, String)> = alloc::vec::Vec::new();
    let mut add = |from: Node, to: Node, l: String| match edges
        .iter_mut()
        .find(|(f, t, _)| *f == from && *t == to)
    {
        Some((_, _, existing)) => {
            existing.push_str("<br/>");
            existing.push_str(&l);
        }
        None => edges.push((from, to, l)),
    };
    for r in rows() {
        let is_uniform = uniform(r.step, r.guard);
        if is_uniform && r.from != Phase::ALL[0] {
            continue;
        }
        let from = if is_uniform {
            Node::Any
        } else {
            Node::Phase(r.from)
        };
        let to = match r.next {
            To(p) => Node::Phase(p),
            Stay => from,
        };
        if to == from && r.finding.is_none() {
            continue;
        }
        add(from, to, label(r));
    }
    edges
}

/// The table as a Mermaid state diagram. The phases sit inside one composite state, "any
/// phase", from which the steps that do the same everywhere are drawn.
pub fn to_mermaid() -> String {
    let mut s = String::from("stateDiagram-v2\n    [*] --> Configured: first input of a project\n");
    s.push_str("    state \"any phase\" as AnyPhase {\n");
    for p in Phase::ALL {
        let _ = writeln!(s, "        {}", p.as_str());
    }
    s.push_str("    }\n");
    for (from, to, l) in edges() {
        let _ = writeln!(s, "    {} --> {}: {}", from.name(), to.name(), l);
    }
    s
}

/// The table as a Graphviz DOT digraph (steps that do the same in every phase leave the
/// `AnyPhase` cluster).
pub fn to_dot() -> String {
    let mut s = String::from(
        "digraph lifecycle {\n    rankdir=LR;\n    compound=true;\n    node [shape=box, style=rounded];\n    start [shape=point];\n",
    );
    s.push_str("    subgraph cluster_any {\n        label=\"any phase\";\n        AnyPhase [shape=point, style=invis];\n");
    for p in Phase::ALL {
        let _ = writeln!(s, "        {};", p.as_str());
    }
    s.push_str("    }\n    start -> Configured [label=\"first input of a project\"];\n");
    for (from, to, l) in edges() {
        let l = l.replace("<br/>", "\\n");
        let tail = if from == Node::Any {
            ", ltail=cluster_any"
        } else {
            ""
        };
        let _ = writeln!(
            s,
            "    {} -> {} [label=\"{}\"{tail}];",
            from.name(),
            to.name(),
            l
        );
    }
    s.push_str("}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Totality: every phase, step and guard value the step is judged under has exactly one row,
    /// and the table has no other rows.
    #[test]
    fn every_combination_has_exactly_one_row() {
        let mut expected = 0;
        for from in Phase::ALL {
            for step in Step::ALL {
                for &guard in step.guards() {
                    expected += 1;
                    let n = rows()
                        .filter(|r| r.from == from && r.step == step && r.guard == guard)
                        .count();
                    assert_eq!(n, 1, "{from:?} {step:?} {guard:?}");
                }
            }
        }
        assert_eq!(rows().count(), expected);
    }

    #[test]
    fn diagrams_have_an_edge_for_every_move_and_finding() {
        let mermaid = to_mermaid();
        assert!(mermaid.starts_with("stateDiagram-v2\n"));
        assert!(mermaid.contains("Configured --> ConnectionTested: ConnectionTest [first]"));
        assert!(
            mermaid.contains("ExportOfUntrainedIteration")
                || mermaid.contains("export-of-untrained-iteration")
        );
        let dot = to_dot();
        assert!(dot.starts_with("digraph lifecycle {"));
        assert_eq!(
            dot.matches(" -> ").count(),
            mermaid.matches(" --> ").count()
        );
    }
}
