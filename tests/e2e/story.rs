//! A small driver that tells a project's story to a tracker: each call is one observed input,
//! one minute after the previous unless told otherwise. Tests read as the lifecycle they check.

use cvnotify_core::lifecycle::{
    ContainerUri, Delivery, Event, Evidence, ExportJobStatus, Input, IterationStatus, MessageId,
    Operation, ProjectReport, RejectionCode, Settings, Sources, Timestamp, Tracker,
};
use cvnotify_core::{
    ExportPlatform, ExportStatus, IterationId, ModelUri, Notification, ProjectId, TrainingStatus,
};

pub(crate) const MINUTE: u64 = 60_000;
pub(crate) const CONTAINER: &str = "https://cvbackup.blob.core.windows.net/backups";

pub(crate) fn project(n: u8) -> ProjectId {
    ProjectId::from_bytes([n; 16])
}

pub(crate) fn iteration(n: u8) -> IterationId {
    IterationId::from_bytes([0x10 + n; 16])
}

/// The model URI the service writes for a backup in `CONTAINER`.
pub(crate) fn backup_uri(p: ProjectId, i: IterationId, platform: ExportPlatform) -> ModelUri {
    ModelUri::parse(&format!("{CONTAINER}/{p}%20-%20{i}.{platform}")).unwrap()
}

pub(crate) struct Story {
    pub(crate) tracker: Tracker,
    pub(crate) inputs: Vec<Input>,
    now: u64,
    next_message: u128,
    /// The next input happens at the same instant as the previous one.
    same_time: bool,
}

impl Story {
    pub(crate) fn new(sources: Sources) -> Self {
        let settings = Settings {
            sources,
            ..Settings::default()
        };
        Self {
            tracker: Tracker::new(settings),
            inputs: Vec::new(),
            now: 0,
            next_message: 1,
            same_time: false,
        }
    }

    /// Everything observed.
    pub(crate) fn full() -> Self {
        Self::new(Sources::ALL)
    }

    /// Moves the clock forward before the next input.
    pub(crate) fn wait(&mut self, millis: u64) -> &mut Self {
        self.now += millis;
        self
    }

    /// The next input happens at `millis` (an absolute time), whatever came before: inputs are
    /// fed in the order a driver sees them, which is not always the order of their times.
    pub(crate) fn at_time(&mut self, millis: u64) -> &mut Self {
        self.now = millis;
        self.same_time = true;
        self
    }

    /// The next input happens at the same instant as the last one (queue insertion times have
    /// one-second resolution, so this is common on real data).
    pub(crate) fn at_once(&mut self) -> &mut Self {
        self.same_time = true;
        self
    }

    pub(crate) fn push(&mut self, event: Event) -> &mut Self {
        if !std::mem::take(&mut self.same_time) {
            self.now += MINUTE;
        }
        let evidence = Evidence::new(u32::try_from(self.inputs.len() + 1).unwrap()).unwrap();
        let input = Input {
            at: Timestamp(self.now),
            evidence,
            event,
        };
        self.inputs.push(input.clone());
        self.tracker.handle(input);
        self
    }

    fn delivery(&mut self) -> Delivery {
        self.next_message += 1;
        Delivery {
            message_id: MessageId(self.next_message),
            dequeue_count: 1,
        }
    }

    pub(crate) fn configure(&mut self, p: ProjectId, container: bool) -> &mut Self {
        let container = container.then(|| ContainerUri::parse(CONTAINER).unwrap());
        self.push(Event::Configured {
            project_id: p,
            queue: true,
            container,
        })
    }

    pub(crate) fn notify(&mut self, notification: Notification) -> &mut Self {
        let delivery = self.delivery();
        self.push(Event::Notification {
            notification,
            delivery,
        })
    }

    /// The last input again: the same message handed out once more.
    pub(crate) fn redeliver_last(&mut self) -> &mut Self {
        let mut input = self.inputs.last().unwrap().clone();
        if let Event::Notification { delivery, .. } = &mut input.event {
            delivery.dequeue_count += 1;
        }
        self.push(input.event)
    }

    pub(crate) fn connection_test(&mut self, p: ProjectId) -> &mut Self {
        self.notify(Notification::ConnectionTest { project_id: p })
    }

    pub(crate) fn train(&mut self, p: ProjectId, i: IterationId) -> &mut Self {
        self.push(Event::TrainingRequested {
            project_id: p,
            iteration_id: i,
        })
    }

    pub(crate) fn trained(
        &mut self,
        p: ProjectId,
        i: IterationId,
        status: TrainingStatus,
    ) -> &mut Self {
        self.notify(Notification::Training {
            project_id: p,
            iteration_id: i,
            status,
        })
    }

    pub(crate) fn export(
        &mut self,
        p: ProjectId,
        i: IterationId,
        platform: ExportPlatform,
    ) -> &mut Self {
        self.push(Event::ExportRequested {
            project_id: p,
            iteration_id: i,
            platform,
            flavor: None,
        })
    }

    pub(crate) fn exported(
        &mut self,
        p: ProjectId,
        i: IterationId,
        status: ExportStatus,
        model_uri: Option<ModelUri>,
    ) -> &mut Self {
        self.notify(Notification::Export {
            project_id: p,
            iteration_id: i,
            status,
            model_uri,
        })
    }

    pub(crate) fn exported_to(
        &mut self,
        p: ProjectId,
        i: IterationId,
        platform: ExportPlatform,
    ) -> &mut Self {
        self.exported(
            p,
            i,
            ExportStatus::ExportCompleted,
            Some(backup_uri(p, i, platform)),
        )
    }

    pub(crate) fn blob(
        &mut self,
        p: ProjectId,
        i: IterationId,
        platform: ExportPlatform,
    ) -> &mut Self {
        self.push(Event::BlobCreated {
            name: format!("{p} - {i}.{platform}"),
            size: 1024,
        })
    }

    pub(crate) fn poll_iteration(
        &mut self,
        p: ProjectId,
        i: IterationId,
        status: IterationStatus,
    ) -> &mut Self {
        self.push(Event::IterationPolled {
            project_id: p,
            iteration_id: i,
            status,
        })
    }

    pub(crate) fn poll_export(
        &mut self,
        p: ProjectId,
        i: IterationId,
        platform: ExportPlatform,
        status: ExportJobStatus,
    ) -> &mut Self {
        self.push(Event::ExportPolled {
            project_id: p,
            iteration_id: i,
            platform,
            status,
        })
    }

    pub(crate) fn rejected(
        &mut self,
        p: ProjectId,
        operation: Operation,
        code: RejectionCode,
    ) -> &mut Self {
        self.push(Event::ApiRejected {
            project_id: p,
            operation,
            code,
        })
    }

    pub(crate) fn tick(&mut self) -> &mut Self {
        self.push(Event::Tick)
    }

    pub(crate) fn report(&self, p: ProjectId) -> ProjectReport {
        self.tracker.project_report(p).unwrap()
    }

    /// The finding codes of a project, in report order.
    pub(crate) fn codes(&self, p: ProjectId) -> Vec<&'static str> {
        self.report(p)
            .findings
            .iter()
            .map(|f| f.code.as_str())
            .collect()
    }

    /// The happy path: configure, connection test, train, two exports with their backups.
    pub(crate) fn happy(&mut self, p: ProjectId, i: IterationId) -> &mut Self {
        self.configure(p, true)
            .connection_test(p)
            .train(p, i)
            .poll_iteration(p, i, IterationStatus::Training)
            .trained(p, i, TrainingStatus::TrainingCompleted)
            .poll_iteration(p, i, IterationStatus::Completed);
        for platform in [ExportPlatform::Onnx, ExportPlatform::CoreMl] {
            self.export(p, i, platform)
                .poll_export(p, i, platform, ExportJobStatus::Exporting)
                .exported_to(p, i, platform)
                .blob(p, i, platform)
                .poll_export(p, i, platform, ExportJobStatus::Done);
        }
        self
    }
}
