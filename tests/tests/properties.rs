//! Determinism, proved on random inputs: arrival order within the out-of-orderness bound and
//! batch size do not change the final windows.

use std::path::Path;

use proptest::prelude::*;
use pulse::prelude::*;
use pulse::testing::harness;

#[derive(Event, Clone, Debug, PartialEq, Deserialize, Serialize)]
struct Ev {
    key: u8,
    v: u32,
    #[event_time(epoch_ms)]
    t: i64,
}

const BOUND: i64 = 50;

#[pipeline]
fn windows(evs: Stream<Ev>) -> (Stream<(u8, i64, i64, u64, u64)>, Stream<(u8, i64, u64)>) {
    let keyed = evs
        .watermark(BoundedOutOfOrderness::millis(50))
        .key_by(|e| e.key);
    let tumbling = keyed
        .window(Tumbling::millis(100))
        .aggregate((Count, Sum(|e: &Ev| e.v as u64)));
    let sessions = keyed.window(Session::millis(30)).aggregate(Count);
    let t = tumbling.map(|w| {
        (
            w.key,
            w.start.millis(),
            w.end.millis(),
            w.value.0,
            w.value.1,
        )
    });
    let s = sessions.map(|w| (w.key, w.start.millis(), w.value));
    (t, s)
}

type Out = (Vec<(u8, i64, i64, u64, u64)>, Vec<(u8, i64, u64)>);

fn run_chunks(evs: &[Ev], chunk: usize) -> Out {
    let mut h = harness(windows);
    for c in evs.chunks(chunk.max(1)) {
        h.push_all::<0>(c.to_vec());
    }
    h.finish();
    let (mut a, mut b) = (h.output::<0>(), h.output::<1>());
    a.sort();
    b.sort();
    (a, b)
}

/// Sorted events plus an arrival order where each event is delayed by at most `BOUND`.
fn events() -> impl Strategy<Value = (Vec<Ev>, Vec<Ev>)> {
    prop::collection::vec((0u8..4, 0u32..100, 0i64..15, 0i64..=BOUND), 1..200).prop_map(|raw| {
        let mut t = 0;
        let mut sorted = vec![];
        let mut delayed = vec![];
        for (key, v, step, delay) in raw {
            t += step;
            let e = Ev { key, v, t };
            delayed.push((t + delay, sorted.len(), e.clone()));
            sorted.push(e);
        }
        delayed.sort_by_key(|(arrival, i, _)| (*arrival, *i));
        (sorted, delayed.into_iter().map(|(_, _, e)| e).collect())
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn disorder_within_bound_gives_sorted_results((sorted, shuffled) in events()) {
        let want = run_chunks(&sorted, 1);
        let got = run_chunks(&shuffled, 1);
        prop_assert_eq!(&got, &want);
        prop_assert_eq!(want.0.iter().map(|r| r.3).sum::<u64>(), sorted.len() as u64, "every event counted once");
    }

    #[test]
    fn batch_size_does_not_matter((_, shuffled) in events(), chunk in 1usize..64) {
        prop_assert_eq!(run_chunks(&shuffled, chunk), run_chunks(&shuffled, shuffled.len()));
    }
}

/// The same through the file driver: the output file is identical for every batch size.
#[test]
fn file_runs_identical_across_batch_sizes() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.jsonl");
    let mut text = String::new();
    for i in 0..2000i64 {
        // bursts of disorder up to 40 ms, inside the 50 ms bound
        let t = i * 7 - (i % 5) * 10;
        text.push_str(&format!(
            "{{\"key\":{},\"v\":{},\"t\":{t}}}\n",
            i % 3,
            i % 17
        ));
    }
    std::fs::write(&input, text).unwrap();
    let run = |batch: usize| -> (String, String) {
        let (a, b) = (
            dir.path().join(format!("a{batch}.jsonl")),
            dir.path().join(format!("b{batch}.jsonl")),
        );
        let args = [
            "windows",
            "-q",
            "--no-checkpoints",
            "--batch-size",
            &batch.to_string(),
            "-i",
            &p(&input),
            "-o",
            &format!("t={}", p(&a)),
            "-o",
            &format!("s={}", p(&b)),
        ];
        pulse::App::new(windows).run_from(args).unwrap();
        (
            std::fs::read_to_string(a).unwrap(),
            std::fs::read_to_string(b).unwrap(),
        )
    };
    let one = run(1);
    assert!(one.0.lines().count() > 100);
    for batch in [2, 7, 64, 1024, 5000] {
        assert_eq!(run(batch), one, "batch size {batch}");
    }
}

fn p(path: &Path) -> String {
    path.display().to_string()
}
