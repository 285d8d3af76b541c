//! The TOML file of `pulse run --config`: its schema, and the checks that name the key and
//! line of each mistake.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use pulse_runtime::io::{BadRecordPolicy, Format, SinkSpec, SourceSpec};
use pulse_runtime::window::{Session, Sliding, Tumbling};
use pulse_runtime::{Error, Result};
use serde::Deserialize;
use toml::Spanned;

use super::ops::{DynAgg, DynWindow, FILTER_OPS, Filter};
use crate::cli::parse_duration;

/// An aggregate of `[ops] agg`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggKind {
    /// Elements per window.
    Count,
    /// The sum of `agg_field`.
    Sum,
    /// The mean of `agg_field`.
    Avg,
    /// The least `agg_field`.
    Min,
    /// The greatest `agg_field`.
    Max,
    /// The number of distinct values of `agg_field`.
    Distinct,
}

const AGGS: [(&str, AggKind); 6] = [
    ("count", AggKind::Count),
    ("sum", AggKind::Sum),
    ("avg", AggKind::Avg),
    ("min", AggKind::Min),
    ("max", AggKind::Max),
    ("distinct", AggKind::Distinct),
];

impl AggKind {
    /// The name in TOML.
    pub fn name(self) -> &'static str {
        AGGS.iter()
            .find(|(_, k)| *k == self)
            .map_or("?", |(n, _)| n)
    }
}

/// What a TOML pipeline computes, as its operators read it.
#[derive(Clone, Debug)]
pub struct Query {
    /// The pipeline's name (metrics label, default state directory).
    pub name: String,
    /// The field holding the event time.
    pub time_field: String,
    /// The watermark's bound on out-of-orderness, in ms.
    pub bound_ms: i64,
    /// How long a window's state is kept after it fired.
    pub lateness: Duration,
    /// The window (with `count_by`).
    pub window: Option<DynWindow>,
    /// The `count_by` field.
    pub key: Option<String>,
    /// The aggregate.
    pub agg: AggKind,
    /// The field it reads (`None` for `count`).
    pub agg_field: Option<String>,
    /// Every filter must keep a record.
    pub filters: Vec<Filter>,
    /// The fields a pipeline without `count_by` keeps (all if empty).
    pub select: Vec<String>,
}

impl Query {
    /// The aggregate operator.
    pub fn aggregate(&self) -> DynAgg {
        DynAgg {
            kind: self.agg,
            field: self.agg_field.as_deref().unwrap_or_default().into(),
        }
    }
    /// The window (a pipeline that aggregates has one).
    pub fn window(&self) -> DynWindow {
        self.window
            .expect("a pipeline with `count_by` has a window (checked at load)")
    }
    /// The parameters in words, for `--explain`.
    pub fn describe(&self) -> String {
        use pulse_runtime::window::WindowAssigner;
        let mut parts = vec![format!("event time `{}`", self.time_field)];
        parts.push(format!("watermark bound {} ms", self.bound_ms));
        if !self.filters.is_empty() {
            let fs: Vec<_> = self
                .filters
                .iter()
                .map(|f| format!("{} {} {}", f.field, f.op, f.value))
                .collect();
            parts.push(format!("filter {}", fs.join(" and ")));
        }
        if let (Some(w), Some(k)) = (&self.window, &self.key) {
            parts.push(format!(
                "{}, allowed lateness {} ms",
                w.describe(),
                self.lateness.as_millis()
            ));
            parts.push(match &self.agg_field {
                Some(f) => format!("{} of `{f}` by `{k}`", self.agg.name()),
                None => format!("count by `{k}`"),
            });
        }
        if !self.select.is_empty() {
            parts.push(format!("select {}", self.select.join(", ")));
        }
        parts.join("; ")
    }

    /// Whether every filter keeps `r`.
    pub fn keeps(&self, r: &super::DynRecord) -> bool {
        self.filters.iter().all(|f| f.keeps(r))
    }
}

/// A loaded TOML pipeline: the query, and where it reads, writes and keeps its state.
#[derive(Clone, Debug)]
pub struct Job {
    /// What it computes.
    pub query: Arc<Query>,
    /// The `[source]`.
    pub source: SourceSpec,
    /// The `[sink]`.
    pub sink: SinkSpec,
    /// `[checkpoint] dir`, if given.
    pub state_dir: Option<PathBuf>,
    /// `[checkpoint] interval`, if given.
    pub checkpoint_interval: Option<Duration>,
    /// `[checkpoint] enabled = false`.
    pub no_checkpoints: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileT {
    name: Option<String>,
    source: SourceT,
    #[serde(default)]
    time: TimeT,
    window: Option<Spanned<WindowT>>,
    ops: Option<Spanned<OpsT>>,
    sink: SinkT,
    checkpoint: Option<CheckpointT>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceT {
    kind: Spanned<String>,
    path: Option<Spanned<String>>,
    format: Option<Spanned<String>>,
    /// Kafka: `HOST:PORT[,HOST:PORT]`.
    brokers: Option<String>,
    /// Kafka: the topic.
    topic: Option<String>,
    /// Kafka: the consumer group.
    group: Option<String>,
    /// Kafka: `earliest` or `latest` where the group has no offset.
    start: Option<String>,
    /// Kafka: end once every partition is read to its end.
    stop_at_end: Option<bool>,
    /// Kafka: librdkafka properties.
    #[serde(default)]
    properties: std::collections::BTreeMap<String, String>,
    #[serde(default = "event_time")]
    time_field: String,
    on_bad_record: Option<Spanned<String>>,
    dead_letter: Option<PathBuf>,
}

fn event_time() -> String {
    "event_time".into()
}

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TimeT {
    watermark_bound: Option<Spanned<String>>,
    allowed_lateness: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WindowT {
    #[serde(rename = "type")]
    kind: Spanned<String>,
    size: Option<Spanned<String>>,
    slide: Option<Spanned<String>>,
    gap: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpsT {
    count_by: Option<String>,
    agg: Option<Spanned<String>>,
    agg_field: Option<String>,
    #[serde(default)]
    filter: Vec<Spanned<String>>,
    #[serde(default)]
    select: Option<Spanned<Vec<String>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SinkT {
    kind: Spanned<String>,
    brokers: Option<String>,
    topic: Option<String>,
    key: Option<String>,
    #[serde(default)]
    properties: std::collections::BTreeMap<String, String>,
    path: Option<Spanned<String>>,
    out_dir: Option<Spanned<String>>,
    format: Option<Spanned<String>>,
    compression: Option<Spanned<String>>,
    zstd_level: Option<i32>,
    max_rows: Option<u64>,
    max_bytes: Option<u64>,
    max_age: Option<Spanned<String>>,
    partition_field: Option<String>,
    partition_format: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckpointT {
    dir: Option<PathBuf>,
    interval: Option<Spanned<String>>,
    enabled: Option<bool>,
}

/// Errors of one file, each at a key's line.
struct Doc<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Doc<'_> {
    fn line(&self, at: usize) -> usize {
        self.text[..at.min(self.text.len())]
            .bytes()
            .filter(|&b| b == b'\n')
            .count()
            + 1
    }

    /// `FILE:LINE: [table] key: message`.
    fn err(&self, span: Range<usize>, key: &str, message: impl std::fmt::Display) -> Error {
        Error::config(format!(
            "{}:{}: {key}: {message}",
            self.path.display(),
            self.line(span.start)
        ))
    }

    /// A parse or schema error from the toml crate, at its line, with the key there.
    fn toml_error(&self, e: &toml::de::Error) -> Error {
        let Some(span) = e.span() else {
            return Error::config(format!("{}: {}", self.path.display(), e.message()));
        };
        let line_start = self.text[..span.start].rfind('\n').map_or(0, |i| i + 1);
        let line = self.text[line_start..].lines().next().unwrap_or("");
        let table = self.text[..line_start]
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| l.starts_with('['))
            .unwrap_or("");
        let key = match line.split_once('=') {
            Some((k, _)) => format!("{table} {}", k.trim()).trim().to_string(),
            None => line.trim().to_string(),
        };
        let key = if key.is_empty() {
            "(top level)".into()
        } else {
            key
        };
        self.err(span, &key, e.message().trim())
    }

    /// An error about a whole `[table]`, at its header's line.
    fn table_err(&self, span: Range<usize>, table: &str, message: impl std::fmt::Display) -> Error {
        let at = self.text[..span.start.min(self.text.len())]
            .rfind(table)
            .unwrap_or(span.start);
        self.err(at..at, table, message)
    }

    fn duration(&self, v: &Spanned<String>, key: &str) -> Result<Duration> {
        parse_duration(v.get_ref()).map_err(|_| {
            self.err(
                v.span(),
                key,
                format!(
                    "`{}` is not a duration; write e.g. \"500ms\", \"10s\", \"5m\" or \"1h\"",
                    v.get_ref()
                ),
            )
        })
    }

    fn positive(&self, v: &Spanned<String>, key: &str) -> Result<Duration> {
        let d = self.duration(v, key)?;
        if d.is_zero() {
            return Err(self.err(v.span(), key, "must be longer than 0"));
        }
        Ok(d)
    }
}

const PIPELINE_TABLES: [&str; 6] = ["source", "time", "window", "ops", "sink", "checkpoint"];

/// Whether `text` reads as a `pulse run` pipeline file (it has a `[source]` or `[sink]` table)
/// rather than a pipeline binary's bindings (`[inputs.NAME]`, `[outputs.NAME]`).
pub fn looks_like_pipeline(text: &str) -> bool {
    text.lines().map(str::trim).any(|l| {
        PIPELINE_TABLES
            .iter()
            .any(|t| l.starts_with(&format!("[{t}]")))
    })
}

/// Reads and checks the pipeline file at `path`.
pub fn load(path: &Path) -> Result<Job> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::Io {
        path: path.into(),
        source: e,
    })?;
    parse(path, &text)
}

/// Checks the pipeline file `text` (read from `path`, which errors name).
pub fn parse(path: &Path, text: &str) -> Result<Job> {
    let doc = Doc { path, text };
    if !looks_like_pipeline(text)
        && text
            .lines()
            .any(|l| l.trim().starts_with("[inputs") || l.trim().starts_with("[outputs"))
    {
        return Err(Error::config(format!(
            "{}: this is a pipeline binary's bindings file ([inputs.NAME], [outputs.NAME]); \
             `pulse run --config` takes a pipeline: [source], [time], [window], [ops], [sink], [checkpoint]",
            path.display()
        )));
    }
    let f: FileT = toml::from_str(text).map_err(|e| doc.toml_error(&e))?;
    let name = f.name.clone().unwrap_or_else(|| {
        path.file_stem()
            .map_or("pipeline".into(), |s| s.to_string_lossy().into_owned())
    });
    let source = source_spec(&doc, &f.source)?;
    let query = query(&doc, &f, name)?;
    let sink = sink_spec(&doc, &f.sink, query.key.is_none())?;
    let (mut state_dir, mut checkpoint_interval, mut no_checkpoints) = (None, None, false);
    if let Some(c) = &f.checkpoint {
        state_dir = c.dir.clone();
        checkpoint_interval = c
            .interval
            .as_ref()
            .map(|v| doc.positive(v, "[checkpoint] interval"))
            .transpose()?;
        no_checkpoints = c.enabled == Some(false);
    }
    Ok(Job {
        query: Arc::new(query),
        source,
        sink,
        state_dir,
        checkpoint_interval,
        no_checkpoints,
    })
}

/// `kafka://BROKERS/TOPIC?k=v..` from a table's `brokers`, `topic` and parameters.
fn kafka_url(
    doc: &Doc<'_>,
    span: Range<usize>,
    table: &str,
    brokers: &Option<String>,
    topic: &Option<String>,
    params: Vec<(String, String)>,
) -> Result<String> {
    let (Some(b), Some(t)) = (brokers, topic) else {
        return Err(doc.err(
            span,
            &format!("[{table}] kind"),
            "a `kafka` table needs `brokers = \"HOST:PORT\"` and `topic = \"NAME\"`",
        ));
    };
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={v}")).collect();
    Ok(format!("kafka://{b}/{t}?{}", query.join("&")))
}

fn source_spec(doc: &Doc<'_>, s: &SourceT) -> Result<SourceSpec> {
    let (path, format) = match s.kind.get_ref().as_str() {
        "file" => file_source(doc, s)?,
        "kafka" => (kafka_source(doc, s)?, Format::Jsonl),
        other => {
            return Err(doc.err(
                s.kind.span(),
                "[source] kind",
                format!("`{other}` is not a source; expected `file` or `kafka`"),
            ));
        }
    };
    let policy = s.on_bad_record.as_ref();
    let on_bad_record = BadRecordPolicy::parse(
        policy.map_or("fail", |p| p.get_ref().as_str()),
        s.dead_letter.as_deref(),
        &path,
    )
    .map_err(|e| match policy {
        Some(p) => doc.err(p.span(), "[source] on_bad_record", e),
        None => e,
    })?;
    Ok(SourceSpec {
        name: "source".into(),
        path,
        format,
        on_bad_record,
        split: Default::default(),
        follow: false,
    })
}

/// A `kind = "file"` source's path and format.
fn file_source(doc: &Doc<'_>, s: &SourceT) -> Result<(String, Format)> {
    if s.brokers.is_some() || s.topic.is_some() || s.group.is_some() {
        return Err(doc.err(
            s.kind.span(),
            "[source] kind",
            "`brokers`, `topic` and `group` are for `kind = \"kafka\"`",
        ));
    }
    let Some(path) = &s.path else {
        return Err(doc.err(
            s.kind.span(),
            "[source] path",
            "a `file` source needs `path` (a file or a glob)",
        ));
    };
    let (span, path) = (path.span(), path.get_ref().clone());
    let format = match &s.format {
        Some(f) => match f.get_ref().as_str() {
            "jsonl" => Format::Jsonl,
            "csv" => Format::Csv,
            other => {
                return Err(doc.err(
                    f.span(),
                    "[source] format",
                    format!("`{other}` is not a source format; expected `jsonl` or `csv`"),
                ));
            }
        },
        None => match Format::from_path(&path) {
            Ok(Format::Parquet) | Err(_) => {
                return Err(doc.err(
                    span,
                    "[source] path",
                    format!(
                        "cannot tell the format of `{path}`; name a .jsonl or .csv file, or set `format`"
                    ),
                ));
            }
            Ok(f) => f,
        },
    };
    Ok((path, format))
}

/// A `kind = "kafka"` source's `kafka://` URL.
fn kafka_source(doc: &Doc<'_>, s: &SourceT) -> Result<String> {
    let mut params = vec![];
    if let Some(g) = &s.group {
        params.push(("group".to_string(), g.clone()));
    }
    if let Some(st) = &s.start {
        params.push(("start".to_string(), st.clone()));
    }
    if s.stop_at_end == Some(true) {
        params.push(("eof".to_string(), "stop".to_string()));
    }
    params.extend(s.properties.iter().map(|(k, v)| (k.clone(), v.clone())));
    kafka_url(doc, s.kind.span(), "source", &s.brokers, &s.topic, params)
}

fn query(doc: &Doc<'_>, f: &FileT, name: String) -> Result<Query> {
    let bound_ms = match &f.time.watermark_bound {
        Some(v) => doc.duration(v, "[time] watermark_bound")?.as_millis() as i64,
        None => 0,
    };
    let lateness = match &f.time.allowed_lateness {
        Some(v) => doc.duration(v, "[time] allowed_lateness")?,
        None => Duration::ZERO,
    };
    let ops = f.ops.as_ref();
    let key = ops.and_then(|o| o.get_ref().count_by.clone());
    let window = match (&f.window, &key) {
        (Some(w), Some(_)) => Some(window(doc, w)?),
        (Some(w), None) => {
            return Err(doc.table_err(
                w.span(),
                "[window]",
                "a window needs a key: add `count_by = \"FIELD\"` to [ops]",
            ));
        }
        (None, Some(_)) => {
            let span = ops.map_or(0..0, |o| o.span());
            return Err(doc.err(
                span,
                "[ops] count_by",
                "aggregating needs a [window]: add `[window]` with `type = \"tumbling\"` and `size = \"60s\"`",
            ));
        }
        (None, None) => None,
    };
    let (mut agg, mut agg_field, mut filters, mut select) = (AggKind::Count, None, vec![], vec![]);
    if let Some(o) = ops {
        let o = o.get_ref();
        if let Some(a) = &o.agg {
            agg = AGGS
                .iter()
                .find(|(n, _)| n == a.get_ref())
                .map(|(_, k)| *k)
                .ok_or_else(|| {
                    doc.err(
                        a.span(),
                        "[ops] agg",
                        format!(
                            "`{}` is not an aggregate; expected one of count, sum, avg, min, max, distinct",
                            a.get_ref()
                        ),
                    )
                })?;
        }
        agg_field = o.agg_field.clone();
        if agg != AggKind::Count && agg_field.is_none() {
            let span = o.agg.as_ref().map_or(0..0, |a| a.span());
            return Err(doc.err(
                span,
                "[ops] agg_field",
                format!("`{}` needs `agg_field = \"FIELD\"`", agg.name()),
            ));
        }
        if agg == AggKind::Count {
            agg_field = None;
        }
        for e in &o.filter {
            filters.push(Filter::parse(e.get_ref()).ok_or_else(|| {
                doc.err(
                    e.span(),
                    "[ops] filter",
                    format!(
                        "`{}` is not a comparison; write `FIELD OP VALUE` with OP one of {} and VALUE a number, a \"string\", true, false or null",
                        e.get_ref(),
                        FILTER_OPS.join(" ")
                    ),
                )
            })?);
        }
        if let Some(s) = &o.select {
            if key.is_some() {
                return Err(doc.err(
                    s.span(),
                    "[ops] select",
                    "`select` keeps fields of records passed through; a pipeline with `count_by` writes windows (key, window_start, window_end, value)",
                ));
            }
            select = s.get_ref().clone();
        }
        if key.is_none() && (o.agg.is_some() || o.agg_field.is_some()) {
            let span = o.agg.as_ref().map_or(0..0, |a| a.span());
            return Err(doc.err(
                span,
                "[ops] agg",
                "an aggregate needs `count_by = \"FIELD\"`",
            ));
        }
    }
    Ok(Query {
        name,
        time_field: f.source.time_field.clone(),
        bound_ms,
        lateness,
        window,
        key,
        agg,
        agg_field,
        filters,
        select,
    })
}

fn window(doc: &Doc<'_>, w: &Spanned<WindowT>) -> Result<DynWindow> {
    let span = w.span();
    let w = w.get_ref();
    // `key` is `[window] NAME`; messages name the key alone.
    let name = |key: &'static str| key.rsplit(' ').next().unwrap_or(key);
    let need = |v: &Option<Spanned<String>>, key: &'static str| match v {
        Some(v) => doc.positive(v, key),
        None => Err(doc.err(
            span.clone(),
            key,
            format!("a {} window needs `{}`", w.kind.get_ref(), name(key)),
        )),
    };
    let refuse = |v: &Option<Spanned<String>>, key: &'static str| match v {
        Some(v) => Err(doc.err(
            v.span(),
            key,
            format!("a {} window has no `{}`", w.kind.get_ref(), name(key)),
        )),
        None => Ok(()),
    };
    Ok(match w.kind.get_ref().as_str() {
        "tumbling" => {
            refuse(&w.slide, "[window] slide")?;
            refuse(&w.gap, "[window] gap")?;
            DynWindow::Tumbling(Tumbling::of(need(&w.size, "[window] size")?))
        }
        "sliding" => {
            refuse(&w.gap, "[window] gap")?;
            let size = need(&w.size, "[window] size")?;
            let slide = need(&w.slide, "[window] slide")?;
            if slide > size {
                let s = w.slide.as_ref().map_or(span.clone(), |s| s.span());
                return Err(doc.err(
                    s,
                    "[window] slide",
                    "the slide is longer than the window: elements between windows would be lost",
                ));
            }
            DynWindow::Sliding(Sliding::of(size, slide))
        }
        "session" => {
            refuse(&w.size, "[window] size")?;
            refuse(&w.slide, "[window] slide")?;
            DynWindow::Session(Session::with_gap(need(&w.gap, "[window] gap")?))
        }
        other => {
            return Err(doc.err(
                w.kind.span(),
                "[window] type",
                format!("`{other}` is not a window; expected tumbling, sliding or session"),
            ));
        }
    })
}

fn sink_spec(doc: &Doc<'_>, s: &SinkT, passes_records: bool) -> Result<SinkSpec> {
    let parquet_key = [
        (
            "compression",
            s.compression.is_some() || s.zstd_level.is_some(),
        ),
        ("max_rows", s.max_rows.is_some()),
        ("max_bytes", s.max_bytes.is_some()),
        ("max_age", s.max_age.is_some()),
        ("partition_field", s.partition_field.is_some()),
        ("partition_format", s.partition_format.is_some()),
    ]
    .into_iter()
    .find(|(_, set)| *set)
    .map(|(k, _)| k);
    let spec = match s.kind.get_ref().as_str() {
        "file" => {
            if let Some(k) = parquet_key {
                return Err(doc.err(
                    s.kind.span(),
                    &format!("[sink] {k}"),
                    "a Parquet option on a `file` sink; set `kind = \"parquet\"` or drop it",
                ));
            }
            let Some(path) = &s.path else {
                return Err(doc.err(
                    s.kind.span(),
                    "[sink] path",
                    "a `file` sink needs `path` (a .jsonl or .csv file, or \"-\" for stdout)",
                ));
            };
            let mut spec = SinkSpec::new("output", path.get_ref())
                .map_err(|e| doc.err(path.span(), "[sink] path", e))?;
            if let Some(f) = &s.format {
                spec.format = match f.get_ref().as_str() {
                    "jsonl" => Format::Jsonl,
                    "csv" => Format::Csv,
                    other => {
                        return Err(doc.err(
                            f.span(),
                            "[sink] format",
                            format!("`{other}` is not a file format; expected `jsonl` or `csv`"),
                        ));
                    }
                };
            }
            if passes_records && spec.format == Format::Csv {
                return Err(doc.err(
                    path.span(),
                    "[sink] path",
                    "records without `count_by` have no fixed columns: write JSON lines or Parquet",
                ));
            }
            spec
        }
        #[cfg(not(feature = "parquet"))]
        "parquet" => {
            return Err(doc.err(
                s.kind.span(),
                "[sink] kind",
                "`parquet` sinks need the `parquet` feature of the `pulse` crate",
            ));
        }
        #[cfg(feature = "parquet")]
        "parquet" => {
            let Some(dir) = s.out_dir.as_ref().or(s.path.as_ref()) else {
                return Err(doc.err(
                    s.kind.span(),
                    "[sink] out_dir",
                    "a `parquet` sink needs `out_dir`",
                ));
            };
            let mut spec = SinkSpec::new("output", &format!("parquet:{}", dir.get_ref()))
                .map_err(|e| doc.err(dir.span(), "[sink] out_dir", e))?;
            let o = &mut spec.parquet;
            use pulse_runtime::io::parquet::{Compression, Partitioning};
            if let Some(c) = &s.compression {
                o.compression = Compression::parse(c.get_ref(), s.zstd_level)
                    .map_err(|e| doc.err(c.span(), "[sink] compression", e))?;
            }
            if let Some(n) = s.max_rows {
                o.max_rows = n.max(1);
            }
            o.max_bytes = s.max_bytes;
            if let Some(a) = &s.max_age {
                o.max_age = Some(doc.positive(a, "[sink] max_age")?);
            }
            let part = match (&s.partition_field, &s.partition_format) {
                (Some(f), None) => format!("field:{f}"),
                (None, Some(fmt)) => format!("date:{fmt}"),
                (None, None) => "date".into(),
                (Some(_), Some(_)) => {
                    return Err(doc.err(
                        s.kind.span(),
                        "[sink] partition_format",
                        "partition by a field (`partition_field`) or by date (`partition_format`), not both",
                    ));
                }
            };
            o.partitioning = Partitioning::parse(&part)
                .map_err(|e| doc.err(s.kind.span(), "[sink] partition_field", e))?;
            spec
        }
        "kafka" => {
            let mut params = vec![];
            if let Some(k) = &s.key {
                params.push(("key".to_string(), k.clone()));
            }
            params.extend(s.properties.iter().map(|(k, v)| (k.clone(), v.clone())));
            let url = kafka_url(doc, s.kind.span(), "sink", &s.brokers, &s.topic, params)?;
            SinkSpec::new("output", &url)?
        }
        other => {
            return Err(doc.err(
                s.kind.span(),
                "[sink] kind",
                format!("`{other}` is not a sink; expected `file`, `parquet` or `kafka`"),
            ));
        }
    };
    Ok(spec)
}
