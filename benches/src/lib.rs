//! Criterion benches for credit-core live in `benches/`.
