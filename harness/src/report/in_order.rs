//! Judges a tracker's projects on worker threads and hands the results over in project order.
//! The tracker is taken apart one project at a time; each project's facts go to a worker, which
//! judges them (and turns the report into whatever the caller makes of it) and drops them; the
//! results come back in id order. A few projects are in flight at a time, so memory stays what
//! judging one at a time needs, and the output is the same on any number of cores.

use std::sync::mpsc;

use cvnotify_core::ProjectId;
use cvnotify_core::lifecycle::facts::ProjectFacts;
use cvnotify_core::lifecycle::{Tracker, Verdicts};

/// Chunks queued for, and results waiting from, each worker.
const IN_FLIGHT: usize = 2;

/// Projects handed to a worker at a time (one hand-over per project would make the threads'
/// wake-ups cost more than judging a small project).
const CHUNK: usize = 64;

/// Workers, at most: judging is the only work left when a replay gets here.
const MOST_WORKERS: usize = 2;

/// Calls `make` for every project of `trackers` (on up to [`MOST_WORKERS`] threads), then
/// `each` with its results, in order, on the calling thread. The trackers hold disjoint
/// projects, in ascending ranges of project id (one tracker, or a replay's spilled parts
/// taken back one range at a time), so the results come by project id. They are taken apart
/// on a thread of their own, which may read (a spilled part is read back as it is reached).
pub(super) fn in_order<T: Send>(
    trackers: impl Iterator<Item = Tracker> + Send,
    make: impl Fn(&Verdicts, ProjectId, ProjectFacts) -> T + Sync,
    mut each: impl FnMut(T),
) {
    let projects = trackers.flat_map(|tracker| {
        let (verdicts, projects) = tracker.into_projects();
        projects.map(move |(id, facts)| (verdicts, id, facts))
    });
    let workers = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .clamp(1, MOST_WORKERS);
    if workers == 1 {
        projects.for_each(|(verdicts, id, facts)| each(make(&verdicts, id, facts)));
        return;
    }
    let make = &make;
    std::thread::scope(|scope| {
        let mut queues = Vec::with_capacity(workers);
        let mut results = Vec::with_capacity(workers);
        for _ in 0..workers {
            let (queue, jobs) =
                mpsc::sync_channel::<Vec<(Verdicts, ProjectId, ProjectFacts)>>(IN_FLIGHT);
            let (result, made) = mpsc::sync_channel::<Vec<T>>(IN_FLIGHT);
            scope.spawn(move || {
                for chunk in jobs {
                    let judged = chunk
                        .into_iter()
                        .map(|(verdicts, id, facts)| make(&verdicts, id, facts))
                        .collect();
                    if result.send(judged).is_err() {
                        break;
                    }
                }
            });
            queues.push(queue);
            results.push(made);
        }
        // Chunk k goes to worker k mod n, and its results are read back from there: each
        // worker keeps its order, so the results come in the projects' order.
        scope.spawn(move || {
            let mut projects = projects.peekable();
            for k in 0.. {
                if projects.peek().is_none() {
                    break;
                }
                let chunk: Vec<_> = projects.by_ref().take(CHUNK).collect();
                let sent = queues
                    .get(k % workers)
                    .is_some_and(|queue| queue.send(chunk).is_ok());
                if !sent {
                    break;
                }
            }
        });
        for k in 0.. {
            match results.get(k % workers).map(mpsc::Receiver::recv) {
                Some(Ok(made)) => made.into_iter().for_each(&mut each),
                _ => break,
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use cvnotify_core::lifecycle::{Event, Evidence, Input, Settings, Timestamp};

    use super::*;

    /// The results come back in project order, each once, whatever the workers' pace.
    #[test]
    fn results_come_in_project_order() {
        let mut tracker = Tracker::new(Settings::default());
        let mut ids = Vec::new();
        for n in 1..=200u32 {
            let spread = u128::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835);
            let id = ProjectId::from_bytes(spread.to_be_bytes());
            ids.push(id);
            tracker.handle(Input {
                at: Timestamp(u64::from(n)),
                evidence: Evidence::new(n).unwrap(),
                event: Event::Configured {
                    project_id: id,
                    queue: true,
                    container: None,
                },
            });
        }
        ids.sort();
        let mut seen = Vec::new();
        in_order(
            std::iter::once(tracker),
            |verdicts, id, facts| {
                // Uneven work, so the workers do not keep step.
                if id.as_bytes()[15] % 3 == 0 {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                verdicts.judge(id, &facts).project_id
            },
            |id| seen.push(id),
        );
        assert_eq!(seen, ids);
    }
}
