//! The transition table: the one place that says how a project's phase moves. Read it top to
//! bottom: for each phase, each step (a lifecycle input that can move a phase) and each guard
//! value, where the project goes and what finding the step raises. Every (phase, step, guard)
//! combination has exactly one row; a test checks that. A step the documented lifecycle does not
//! allow stays in place and raises a finding: an input that cannot happen never moves a phase, so
//! one unexpected message cannot hide the ones after it.
//!
//! Steps are applied in `(at, evidence)` order, whatever order the queue delivered them in.
//! `cvnotify diagram` renders this table; docs/lifecycle.md embeds the Mermaid form.

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
    /// Whether the step is a notification (its time is a queue insertion time, known to the
    /// second), not a training API call.
    pub const fn is_notification(self) -> bool {
        matches!(
            self,
            Self::ConnectionTest
                | Self::TrainingCompleted
                | Self::TrainingFailed
                | Self::ExportCompleted
                | Self::ExportFailed
        )
    }

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

/// The phase a project usually comes from before entering `p` (the main path, configured →
/// connection-tested → training → trained → exported, with the failures branching off it):
/// where a step that does the same in every phase is drawn from.
const fn main_predecessor(p: Phase) -> Option<Phase> {
    match p {
        Phase::Configured => None,
        Phase::ConnectionTested => Some(Phase::Configured),
        Phase::Training => Some(Phase::ConnectionTested),
        Phase::Trained | Phase::TrainingFailed => Some(Phase::Training),
        Phase::Exported | Phase::ExportFailed => Some(Phase::Trained),
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

/// What the diagrams draw, computed once from the table.
struct Drawing {
    /// Edges (`None` as the tail: the start), with the rows that share an edge merged into
    /// one label (one line per row). A row that does the same in every phase is drawn once,
    /// from its target's main-path predecessor, and listed in `anywhere` too.
    edges: alloc::vec::Vec<(Option<Phase>, Phase, alloc::vec::Vec<String>)>,
    /// The rows that do the same in every phase, as `label -> target` (or `label (stays)`).
    anywhere: alloc::vec::Vec<String>,
}

fn drawing() -> Drawing {
    let mut d = Drawing {
        edges: alloc::vec![(
            None,
            Phase::Configured,
            alloc::vec![String::from("first input of a project")]
        )],
        anywhere: alloc::vec::Vec::new(),
    };
    for r in rows() {
        let is_uniform = uniform(r.step, r.guard);
        if is_uniform && r.from != Phase::ALL[0] {
            continue;
        }
        let (from, to) = match (is_uniform, r.next) {
            (true, To(p)) => {
                d.anywhere
                    .push(alloc::format!("{} -> {}", label(r), p.as_str()));
                (main_predecessor(p), p)
            }
            (true, Stay) if r.finding.is_none() => continue,
            (true, Stay) => {
                d.anywhere
                    .push(alloc::format!("{} (stays in its phase)", label(r)));
                continue;
            }
            (false, To(p)) => (Some(r.from), p),
            (false, Stay) if r.finding.is_some() => (Some(r.from), r.from),
            (false, Stay) => continue,
        };
        match d.edges.iter_mut().find(|(f, t, _)| *f == from && *t == to) {
            Some((_, _, labels)) => labels.push(label(r)),
            None => d.edges.push((from, to, alloc::vec![label(r)])),
        }
    }
    d
}

/// The table as a Mermaid state diagram: the main path from left to right with the failures
/// branching off it, and a note listing the steps that do the same in every phase.
pub fn to_mermaid() -> String {
    let d = drawing();
    let mut s = String::from("stateDiagram-v2\n    direction LR\n");
    for (from, to, labels) in &d.edges {
        let from = from.map_or("[*]", Phase::as_str);
        let _ = writeln!(
            s,
            "    {from} --> {}: {}",
            to.as_str(),
            labels.join("<br/>")
        );
    }
    s.push_str("    note right of Configured\n        in any phase:\n");
    for row in &d.anywhere {
        let _ = writeln!(s, "        {row}");
    }
    s.push_str("    end note\n");
    s
}

/// The table as a Graphviz DOT digraph: the main path from left to right (heavier edges keep
/// it straight), the failures branching off it, and a note listing the steps that do the same
/// in every phase.
pub fn to_dot() -> String {
    let d = drawing();
    let mut s = String::from(
        "digraph lifecycle {\n    rankdir=LR;\n    node [shape=box, style=rounded];\n    start [shape=point];\n    TrainingFailed [color=firebrick];\n    ExportFailed [color=firebrick];\n",
    );
    for (from, to, labels) in &d.edges {
        let from = from.map_or("start", Phase::as_str);
        let failure = matches!(to, Phase::TrainingFailed | Phase::ExportFailed);
        let main =
            !failure && main_predecessor(*to).map_or(from == "start", |p| p.as_str() == from);
        let weight = if main { ", weight=10" } else { "" };
        let _ = writeln!(
            s,
            "    {from} -> {} [label=\"{}\"{weight}];",
            to.as_str(),
            labels.join("\\n")
        );
    }
    s.push_str("    anywhere [shape=note, label=\"in any phase:\\l");
    for row in &d.anywhere {
        let _ = write!(s, "{row}\\l");
    }
    s.push_str("\"];\n}\n");
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
            dot.lines()
                .filter(|l| l.contains(" -> ") && l.contains("[label"))
                .count(),
            mermaid.matches(" --> ").count()
        );
        // The main path, drawn in order without a hub.
        for (a, b) in [
            ("start", "Configured"),
            ("Configured", "ConnectionTested"),
            ("ConnectionTested", "Training"),
            ("Training", "Trained"),
            ("Trained", "Exported"),
            ("Training", "TrainingFailed"),
            ("Trained", "ExportFailed"),
        ] {
            assert!(
                dot.contains(&alloc::format!("    {a} -> {b} [")),
                "{a} -> {b}: {dot}"
            );
        }
        assert!(!dot.contains("AnyPhase") && !mermaid.contains("AnyPhase"));
    }
}
