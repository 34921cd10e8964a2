//! `credit score` on CSV bytes: the command's own header check and streaming loop
//! (`credit_service::score_cmd::{read_header, score_csv}`), in memory instead of on files.
//!
//! Input layout: the first byte picks the header, one of four realistic ones (the Kaggle file's,
//! the seed API's names with an `id` column, reversed names without one, aliases among other
//! columns) or, for any other value, the input's own first line; the rest are the records.
//! Fixed headers let the fuzzer spend its time on the records, where the bugs of a scoring
//! run would be; its own header lines exercise the column matching.
//!
//! Checks: no panic; the output is CSV that reads back with the output header and one row per
//! input record, each [`OUTPUT_WIDTH`] fields wide; a scored row has a probability in [0, 1],
//! a 0/1 prediction, a finite score and no errors, an unscored row has only an id and a JSON
//! list of errors that each carry a field, a code and a message; the summary counts the rows.

use credit_core::FEATURES;
use credit_service::score_cmd::{self, OUTPUT_WIDTH};

const KAGGLE: &str = ",SeriousDlqin2yrs,RevolvingUtilizationOfUnsecuredLines,age,NumberOfTime30-59DaysPastDueNotWorse,DebtRatio,MonthlyIncome,NumberOfOpenCreditLinesAndLoans,NumberOfTimes90DaysLate,NumberRealEstateLoansOrLines,NumberOfTime60-89DaysPastDueNotWorse,NumberOfDependents";

fn header(choice: u8) -> Option<String> {
    let names: Vec<&str> = FEATURES.iter().map(|f| f.name).collect();
    match choice {
        0 => Some(KAGGLE.to_owned()),
        1 => Some(format!("id,{}", names.join(","))),
        2 => Some(names.iter().rev().copied().collect::<Vec<_>>().join(",")),
        3 => Some(format!(
            "note,{},Id,extra",
            FEATURES
                .iter()
                .map(|f| f.alias.unwrap_or(f.name))
                .collect::<Vec<_>>()
                .join(",")
        )),
        _ => None,
    }
}

pub fn run(data: &[u8]) {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let input: Vec<u8> = match header(choice % 8) {
        Some(h) => [h.as_bytes(), b"\n", rest].concat(),
        None => rest.to_vec(),
    };
    let model = crate::shipped();
    let Ok((rdr, cols)) = score_cmd::read_header(input.as_slice(), "fuzz input") else {
        return; // a header without the ten columns is refused before any output
    };
    let mut out = Vec::new();
    let summary = score_cmd::score_csv(model, rdr, &cols, "fuzz input", &mut out, || {})
        .expect("scoring from memory into memory does not fail");

    let mut rows = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(out.as_slice());
    let mut records = rows.records();
    let head = records
        .next()
        .expect("the output has a header")
        .expect("the output header reads back");
    assert_eq!(head.iter().collect::<Vec<_>>(), score_cmd::output_header());
    let (mut n, mut scored, mut invalid, mut defaults, mut sum_p) = (0u64, 0u64, 0u64, 0u64, 0.0);
    for rec in records {
        let rec = rec.expect("an output row reads back as CSV");
        n += 1;
        assert_eq!(rec.len(), OUTPUT_WIDTH, "output row {n}: {rec:?}");
        let errors = &rec[OUTPUT_WIDTH - 1];
        if errors.is_empty() {
            scored += 1;
            let p: f64 = rec[1].parse().expect("a probability");
            assert!(p.is_finite() && (0.0..=1.0).contains(&p), "probability {p}");
            sum_p += p;
            assert!(rec[2] == *"0" || rec[2] == *"1", "prediction {:?}", &rec[2]);
            defaults += u64::from(&rec[2] == "1");
            let score: f64 = rec[3].parse().expect("a score");
            assert!(score.is_finite(), "score {score}");
        } else {
            invalid += 1;
            for (k, field) in rec.iter().enumerate().take(OUTPUT_WIDTH - 1).skip(1) {
                assert!(field.is_empty(), "invalid row {n} has column {k} {field:?}");
            }
            let list: serde_json::Value =
                serde_json::from_str(errors).expect("the errors column is JSON");
            let list = list.as_array().expect("the errors column is a list");
            assert!(!list.is_empty(), "invalid row {n} without errors");
            for e in list {
                for key in ["field", "code", "message"] {
                    assert!(e[key].is_string(), "error without {key}: {e}");
                }
                assert!(!e["code"].as_str().unwrap_or("").is_empty());
            }
        }
    }
    assert_eq!(summary.rows, n, "summary rows vs output rows");
    assert_eq!(summary.scored, scored);
    assert_eq!(summary.invalid, invalid);
    assert_eq!(summary.predicted_default, defaults);
    let m = summary.mean_probability;
    assert!(m.is_finite() && (0.0..=1.0).contains(&m), "mean {m}");
    if scored > 0 {
        // The output rounds nothing: `{:?}` writes every digit of the probability.
        let mean = sum_p / scored as f64;
        assert!(
            (mean - m).abs() <= 1e-12,
            "mean {m} vs {mean} from the output"
        );
    }
}
