//! Benchmarks for the MetaOffice server; see `benches/` for the criterion suites.
