//! Prediction throughput of the bundled model, one core: from parsed transactions, and end
//! to end from raw CSV bytes to labels (the figure issue 5 asks for; the comparison with
//! scikit-learn is `benches/classifier_vs_sklearn.sh`).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use txclass_suite::classifier::{self, Featurizer, SparseRow};
use txclass_suite::datagen::{self, GenConfig, Split};
use txclass_suite::records::{read_rows, Format};
use txclass_suite::{Classifier, Transaction};

fn bench(c: &mut Criterion) {
    let model = classifier::bundled_model().expect("bundled model");
    let rows = datagen::generate(&GenConfig {
        seed: 99,
        rows: 20_000,
        validation_fraction: 0.0,
        test_fraction: 0.99,
        ..GenConfig::default()
    })
    .expect("generated rows");
    let test: Vec<_> = rows
        .iter()
        .filter(|(s, _)| *s == Split::Test)
        .map(|(_, r)| r)
        .collect();
    let txs: Vec<Transaction> = test.iter().map(|r| r.transaction.clone()).collect();
    let mut csv = Vec::new();
    datagen::write_csv(&mut csv, test.iter().copied()).expect("csv");
    let n = txs.len() as u64;

    let mut g = c.benchmark_group("classifier");
    g.throughput(Throughput::Elements(n));
    g.bench_function("featurize", |b| {
        let mut f = Featurizer::new(model.features());
        let mut row = SparseRow::default();
        b.iter(|| {
            for tx in &txs {
                f.featurize(tx, &mut row);
            }
            row.indices.len()
        })
    });
    g.bench_function("predict_batch", |b| b.iter(|| model.predict_batch(&txs)));
    g.bench_function("predict_single", |b| {
        b.iter(|| {
            txs.iter()
                .map(|t| model.predict(t).probability)
                .sum::<f32>()
        })
    });
    g.bench_function("csv_to_labels", |b| {
        b.iter(|| {
            let parsed: Vec<Transaction> = read_rows(csv.as_slice(), Format::Csv)
                .filter_map(|r| r.ok().map(|(t, _)| t))
                .collect();
            model.predict_batch(&parsed).len()
        })
    });
    g.finish();

    // The figure, printed plainly.
    let started = std::time::Instant::now();
    let parsed: Vec<Transaction> = read_rows(csv.as_slice(), Format::Csv)
        .filter_map(|r| r.ok().map(|(t, _)| t))
        .collect();
    let labels = model.predict_batch(&parsed);
    let secs = started.elapsed().as_secs_f64();
    println!(
        "end-to-end CSV -> labels: {} rows in {:.3} s = {:.0} rows/s (one core)",
        labels.len(),
        secs,
        labels.len() as f64 / secs
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
