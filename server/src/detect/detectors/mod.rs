//! The detectors over events, one file each, in the order their verdicts about one event
//! are recorded.

mod bulk_retrieval;
mod cross_account;
mod denied_burst;
mod first_time_reader;
mod off_hours;
mod read_spike;
mod risky_change;
mod rotation_cancelled;
mod rotation_failed;
mod rotation_stale_consumer;
mod unfamiliar_source;

use super::run::Run;

pub use bulk_retrieval::BulkRetrieval;
pub use cross_account::CrossAccount;
pub use denied_burst::DeniedBurst;
pub use first_time_reader::FirstTimeReader;
pub use off_hours::OffHours;
pub use read_spike::ReadSpike;
pub use risky_change::RiskyChange;
pub use rotation_cancelled::RotationCancelled;
pub use rotation_failed::RotationFailed;
pub use rotation_stale_consumer::RotationStaleConsumer;
pub use unfamiliar_source::UnfamiliarSource;

/// Every detector that looks at events.
pub fn all() -> Vec<Box<dyn Run>> {
    vec![
        Box::new(RotationFailed),
        Box::new(RotationCancelled),
        Box::new(RotationStaleConsumer),
        Box::new(RiskyChange),
        Box::new(FirstTimeReader),
        Box::new(CrossAccount),
        Box::new(UnfamiliarSource),
        Box::new(ReadSpike),
        Box::new(BulkRetrieval),
        Box::new(DeniedBurst),
        Box::new(OffHours),
    ]
}
