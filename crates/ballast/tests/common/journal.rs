//! The engine journal of a data directory, read record by record with the store's own scan.

use std::path::Path;

use ballast_store::RealStorage;
use ballast_store::journal::Scan;
use ballast_store::journal::scan::ScanError;
use ballast_store::record::RecordRef;

/// `(seq, type, body)` of one journal record.
pub type Record = (u64, String, String);

/// `(seq, type, body)` of the engine journal's valid records under `data`, and the scan's
/// verdict (an engine may be writing it: the valid prefix).
pub fn engine_scan(data: &Path) -> (Vec<Record>, Result<Scan, ScanError>) {
    let mut out = Vec::new();
    let scan = ballast_store::journal::scan(
        &RealStorage,
        &data.join("journal/engine"),
        &mut |r: &RecordRef<'_>| {
            out.push((r.seq, r.kind.to_string(), r.body.get().to_owned()));
            Ok(())
        },
    );
    (out, scan)
}

/// `(type, body)` of the engine journal's valid records under `data` (no verdict asked).
pub fn engine_records(data: &Path) -> Vec<(String, String)> {
    engine_scan(data)
        .0
        .into_iter()
        .map(|(_, k, b)| (k, b))
        .collect()
}
