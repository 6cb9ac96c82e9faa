//! Measured preload: each verified object's event is extended into the plan's PCR before any
//! byte of it reaches the kernel, then one closing event; each extend gets a record in
//! systemd's measurement log, written under systemd's lock discipline (the log's lock is held
//! across the extend and the append, so records and extends of systemd and ours stay in one
//! order). The encodings are `bpf_preload_format::measure` (pure); the device and file I/O is behind
//! [`MeasureIo`] (beside its real implementation in `sys::tpm`; a fake in the tests).
#![forbid(unsafe_code)]

use std::cell::RefCell;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use crate::sys::tpm::{MeasureIo, OpenTpmError};
use bpf_preload_format::measure::{self, MeasurePlan, ResponseError};
use bpf_preload_format::status::{MeasureState, MeasurementStatus};

/// At most this many tries of one command the TPM answers "retry", "yielded" or "testing" to.
pub const MAX_TRIES: u32 = 20;

/// Why the TPM could not be used.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TpmError {
    #[error("no TPM: {0}")]
    NoDevice(#[source] OpenTpmError),
    #[error("{}: {source}", device.display())]
    Io {
        device: PathBuf,
        #[source]
        source: Arc<io::Error>,
    },
    #[error("{}: extend PCR {pcr}: {source}", device.display())]
    Response {
        device: PathBuf,
        pcr: u32,
        #[source]
        source: ResponseError,
    },
    #[error("{}: extend PCR {pcr}: still busy after {tries} tries: {last}", device.display())]
    Busy {
        device: PathBuf,
        pcr: u32,
        tries: u32,
        last: measure::ResponseCode,
    },
}

/// An object measuring is required for and that was not measured: it must not load.
#[derive(Debug, Clone, thiserror::Error)]
pub enum MeasureError {
    /// The TPM was not usable before this object (no device, or an earlier extend failed).
    #[error("measurement required and unavailable: {0}")]
    Unavailable(#[source] TpmError),
    /// Extending this object's event failed.
    #[error("measurement required and failed: {0}")]
    Failed(#[source] TpmError),
}

/// What measuring did for one event, when the object may load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measured {
    /// Extended into the PCR (and logged, unless the log failed).
    Extended,
    /// Measuring is off.
    Off,
    /// The TPM is unusable or failed, and measuring is not required.
    Skipped,
}

/// One run's measurement: created at the start, an event per verified object, the closing
/// event, then its status.
pub struct Measurer<'a> {
    plan: Option<MeasurePlan>,
    io: &'a dyn MeasureIo,
    st: RefCell<MeasurementStatus>,
    /// Set once the TPM failed: nothing more is extended (and, required, nothing loaded).
    broken: RefCell<Option<TpmError>>,
    measured: RefCell<usize>,
}

impl<'a> Measurer<'a> {
    pub fn new(plan: Option<MeasurePlan>, io: &'a dyn MeasureIo) -> Self {
        let mut st = MeasurementStatus::off();
        let mut broken = None;
        if let Some(p) = plan {
            st.pcr = Some(p.pcr);
            st.required = p.required;
            st.log = Some(io.log_path().display().to_string());
            match io.open_tpm() {
                Ok(dev) => {
                    st.state = MeasureState::Ok;
                    st.device = Some(dev.display().to_string());
                }
                Err(why) => {
                    let e = TpmError::NoDevice(why);
                    st.state = MeasureState::Unavailable;
                    st.reason = Some(e.to_string());
                    broken = Some(e);
                }
            }
        }
        Self {
            plan,
            io,
            st: RefCell::new(st),
            broken: RefCell::new(broken),
            measured: RefCell::new(0),
        }
    }

    /// Measuring was asked for.
    pub fn on(&self) -> bool {
        self.plan.is_some()
    }

    /// Measure one verified object. `Ok`: the object may load ([`Measured`] says whether its
    /// event was extended); `Err`: required and not measured: the object must not load.
    pub fn object(
        &self,
        name: &str,
        sha256: &str,
        key_id: &str,
        fast: bool,
    ) -> Result<Measured, MeasureError> {
        self.event(&measure::object_event(name, sha256, key_id, fast))
            .inspect(|m| {
                if *m == Measured::Extended {
                    *self.measured.borrow_mut() += 1;
                }
            })
    }

    /// Measure a built-in BPF object (`name`, the SHA-256 of its bytes) before it is loaded;
    /// like [`object`](Self::object), but not counted among the objects of the closing event.
    pub fn builtin(&self, name: &str, sha256: &str) -> Result<Measured, MeasureError> {
        self.event(&measure::builtin_event(name, sha256))
    }

    /// The closing event, after the list (also when objects failed).
    pub fn close(&self, listed: usize) {
        let measured = *self.measured.borrow();
        let _ = self.event(&measure::closing_event(listed, measured));
    }

    pub fn status(&self) -> MeasurementStatus {
        self.st.borrow().clone()
    }

    fn event(&self, event: &str) -> Result<Measured, MeasureError> {
        let Some(plan) = self.plan else {
            return Ok(Measured::Off);
        };
        if let Some(e) = &*self.broken.borrow() {
            return if plan.required {
                Err(MeasureError::Unavailable(e.clone()))
            } else {
                Ok(Measured::Skipped)
            };
        }
        let logged = self.io.log_begin();
        if let Err(e) = &logged {
            self.st.borrow_mut().log_error.get_or_insert(e.to_string());
        }
        match self.extend(plan.pcr, &measure::event_digest(event)) {
            Ok(()) => {
                self.st.borrow_mut().events += 1;
                if logged.is_ok() {
                    let rec = measure::log_record(
                        plan.pcr,
                        event,
                        &self.io.boot_id(),
                        self.io.timestamp_us(),
                    );
                    if let Err(e) = self.io.log_append(&rec) {
                        self.st.borrow_mut().log_error.get_or_insert(e.to_string());
                    }
                }
                Ok(Measured::Extended)
            }
            Err(e) => {
                if logged.is_ok() {
                    self.io.log_cancel();
                }
                let mut st = self.st.borrow_mut();
                st.state = MeasureState::Unavailable;
                st.reason = Some(e.to_string());
                *self.broken.borrow_mut() = Some(e.clone());
                if plan.required {
                    Err(MeasureError::Failed(e))
                } else {
                    Ok(Measured::Skipped)
                }
            }
        }
    }

    /// One `TPM2_PCR_Extend`, asked again (bounded) while the TPM says retry/yielded/testing.
    fn extend(&self, pcr: u32, digest: &[u8; 32]) -> Result<(), TpmError> {
        let device = PathBuf::from(self.st.borrow().device.clone().unwrap_or_default());
        let cmd = measure::pcr_extend_command(pcr, digest);
        let mut last = None;
        for attempt in 0..MAX_TRIES {
            if attempt > 0 {
                self.io.pause(attempt);
            }
            let resp = self.io.transact(&cmd).map_err(|e| TpmError::Io {
                device: device.clone(),
                source: Arc::new(e),
            })?;
            match measure::check_response(&resp) {
                Ok(_) => return Ok(()),
                Err(ResponseError::Code(rc)) if rc.is_transient() => last = Some(rc),
                Err(source) => {
                    return Err(TpmError::Response {
                        device,
                        pcr,
                        source,
                    })
                }
            }
        }
        Err(TpmError::Busy {
            device,
            pcr,
            tries: MAX_TRIES,
            last: last.unwrap_or(measure::ResponseCode(0)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::FakeMeasure;
    use crate::sys::tpm::LogError;
    use bpf_preload_format::measure::{closing_event, event_digest, object_event, replay};
    use std::cell::RefCell;

    const SHA: &str = "8ec9c8f9478bf9c2a1f1e5ad45ab4f5f4b4d7f8f4a7c1d3bbd5a0e6bd8b5e0a1";
    const PLAN: Option<MeasurePlan> = Some(MeasurePlan {
        pcr: 12,
        required: false,
    });
    const REQUIRED: Option<MeasurePlan> = Some(MeasurePlan {
        pcr: 12,
        required: true,
    });

    #[test]
    fn extends_each_object_then_closes_and_logs_each_under_the_lock() {
        let io = FakeMeasure::default();
        let m = Measurer::new(PLAN, &io);
        assert_eq!(
            m.object("a", SHA, "bfec6534c3009d50", true).ok(),
            Some(Measured::Extended)
        );
        assert_eq!(
            m.object("b", SHA, "bfec6534c3009d50", false).ok(),
            Some(Measured::Extended)
        );
        m.close(3);
        let events = [
            object_event("a", SHA, "bfec6534c3009d50", true),
            object_event("b", SHA, "bfec6534c3009d50", false),
            closing_event(3, 2),
        ];
        let sent: Vec<Vec<u8>> = events
            .iter()
            .map(|e| measure::pcr_extend_command(12, &event_digest(e)))
            .collect();
        assert_eq!(*io.commands.borrow(), sent);
        assert_eq!(
            *io.ops.borrow(),
            ["log_begin", "transact", "log_append"].repeat(3)
        );
        let recs = measure::parse_log(&io.log.borrow()).unwrap();
        let strings: Vec<&str> = recs.iter().filter_map(|r| r.string.as_deref()).collect();
        assert_eq!(
            strings,
            events.iter().map(String::as_str).collect::<Vec<_>>()
        );
        let digests: Vec<[u8; 32]> = recs.iter().filter_map(|r| r.sha256).collect();
        assert_eq!(
            replay(&digests),
            replay(&events.iter().map(|e| event_digest(e)).collect::<Vec<_>>())
        );
        let st = m.status();
        assert_eq!(
            (st.state, st.events, st.log_error),
            (MeasureState::Ok, 3, None)
        );
    }

    #[test]
    fn off_measures_nothing() {
        let io = FakeMeasure::default();
        let m = Measurer::new(None, &io);
        assert_eq!(m.object("a", SHA, "k", true).ok(), Some(Measured::Off));
        m.close(1);
        assert!(io.ops.borrow().is_empty());
        assert_eq!(m.status(), MeasurementStatus::off());
    }

    #[test]
    fn no_tpm_is_unavailable_and_required_refuses_the_object() {
        let io = FakeMeasure {
            no_device: true,
            ..Default::default()
        };
        let m = Measurer::new(PLAN, &io);
        assert_eq!(m.object("a", SHA, "k", true).ok(), Some(Measured::Skipped));
        let st = m.status();
        assert_eq!(st.state, MeasureState::Unavailable);
        assert_eq!(
            st.reason.as_deref(),
            Some("no TPM: open /dev/tpm0: No such file or directory (os error 2)")
        );
        let m = Measurer::new(REQUIRED, &io);
        let e = m.object("a", SHA, "k", true).unwrap_err();
        assert!(
            matches!(e, MeasureError::Unavailable(TpmError::NoDevice(_))),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "measurement required and unavailable: no TPM: open /dev/tpm0: No such file or directory (os error 2)"
        );
        assert!(io.ops.borrow().is_empty());
    }

    #[test]
    fn failure_mode_is_reported_in_words_and_stops_further_extends() {
        let io = FakeMeasure {
            codes: RefCell::new(vec![0x101]),
            ..Default::default()
        };
        let m = Measurer::new(REQUIRED, &io);
        let e = m.object("a", SHA, "k", true).unwrap_err();
        assert!(
            matches!(e, MeasureError::Failed(TpmError::Response { pcr: 12, .. })),
            "{e:?}"
        );
        assert_eq!(
            e.to_string(),
            "measurement required and failed: /dev/tpmrm0: extend PCR 12: TPM_RC_FAILURE: the TPM is in failure mode (0x101)"
        );
        assert_eq!(*io.ops.borrow(), ["log_begin", "transact", "log_cancel"]);
        assert!(matches!(
            m.object("b", SHA, "k", true),
            Err(MeasureError::Unavailable(TpmError::Response { .. }))
        ));
        m.close(2);
        assert_eq!(io.ops.borrow().len(), 3, "nothing sent after the failure");
        assert_eq!(m.status().state, MeasureState::Unavailable);
    }

    #[test]
    fn busy_is_retried_a_bounded_number_of_times() {
        let io = FakeMeasure {
            codes: RefCell::new(vec![0x922, 0x90a, 0x908]),
            ..Default::default()
        };
        let m = Measurer::new(PLAN, &io);
        assert_eq!(m.object("a", SHA, "k", true).ok(), Some(Measured::Extended));
        assert_eq!(io.pauses.get(), 3);
        let io = FakeMeasure {
            codes: RefCell::new(vec![0x922; 100]),
            ..Default::default()
        };
        let m = Measurer::new(PLAN, &io);
        assert_eq!(m.object("a", SHA, "k", true).ok(), Some(Measured::Skipped));
        assert_eq!(io.commands.borrow().len(), MAX_TRIES as usize);
        assert_eq!(
            m.status().reason.as_deref(),
            Some("/dev/tpmrm0: extend PCR 12: still busy after 20 tries: TPM_RC_RETRY: the TPM is busy (0x922)")
        );
    }

    #[test]
    fn a_log_fault_is_reported_and_the_extend_goes_on() {
        for fault in [
            LogError::Locked {
                path: "/l".into(),
                waited_ms: 2000,
            },
            LogError::NotRegular { path: "/l".into() },
            LogError::Aborted { path: "/l".into() },
        ] {
            let io = FakeMeasure {
                log_fault: Some(fault.clone()),
                ..Default::default()
            };
            let m = Measurer::new(REQUIRED, &io);
            assert_eq!(m.object("a", SHA, "k", true).ok(), Some(Measured::Extended));
            let st = m.status();
            assert_eq!((st.state, st.events), (MeasureState::Ok, 1));
            assert_eq!(st.log_error, Some(fault.to_string()));
            assert!(io.log.borrow().is_empty());
        }
    }

    #[test]
    fn an_io_error_is_unavailable() {
        let io = FakeMeasure {
            io_error: true,
            ..Default::default()
        };
        let m = Measurer::new(PLAN, &io);
        assert_eq!(m.object("a", SHA, "k", true).ok(), Some(Measured::Skipped));
        assert_eq!(
            m.status().reason.as_deref(),
            Some("/dev/tpmrm0: Input/output error (os error 5)")
        );
    }
}
