//! `--http-port`: Prometheus `/metrics`, `/healthz` and `/debug/graph` on one port.
//!
//! The recorder is `metrics-exporter-prometheus`'s, installed once per process; the server is
//! Pulse's own, on a one-thread tokio runtime of its own thread, so nothing it does runs on
//! the operator threads. It stops when the run it serves ends.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use pulse_runtime::exec::StatusBoard;
use pulse_runtime::{Error, Result};

/// Bucket bounds (ms) of the latency and duration histograms.
const LATENCY_MS: &[f64] = &[
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 1000.0, 5000.0,
];

/// The process's Prometheus recorder, installed on first use.
fn recorder() -> Result<PrometheusHandle> {
    static HANDLE: OnceLock<std::result::Result<PrometheusHandle, String>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_ms".into()), LATENCY_MS)
                .map_err(|e| e.to_string())?;
            builder.install_recorder().map_err(|e| e.to_string())
        })
        .clone()
        .map_err(|e| Error::config(format!("cannot install the metrics recorder: {e}")))
}

/// A running metrics server; dropping it stops it.
pub struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Binds `ip:port` (`port` 0: any free port) and serves the process's metrics and `board`.
    pub fn start(ip: IpAddr, port: u16, boards: Vec<StatusBoard>) -> Result<Server> {
        let handle = recorder()?;
        let listener = std::net::TcpListener::bind((ip, port)).map_err(|e| {
            Error::config(format!("--http-port: cannot listen on {ip}:{port}: {e}"))
        })?;
        listener
            .set_nonblocking(true)
            .map_err(|e| Error::config(format!("--http-port: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::config(format!("--http-port: {e}")))?;
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| Error::config(format!("--http-port: cannot start its runtime: {e}")))?;
        let started = Instant::now();
        let thread = std::thread::Builder::new()
            .name("pulse-http".into())
            .spawn(move || runtime.block_on(serve(listener, handle, boards, stopping, started)))
            .map_err(|e| Error::config(format!("--http-port: {e}")))?;
        Ok(Server {
            addr,
            stop,
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        // Wake the accept loop at once rather than at its next timeout.
        let _ = std::net::TcpStream::connect_timeout(&self.addr, Duration::from_millis(100));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

async fn serve(
    listener: std::net::TcpListener,
    handle: PrometheusHandle,
    boards: Vec<StatusBoard>,
    stop: Arc<AtomicBool>,
    started: Instant,
) {
    let boards = Arc::new(boards);
    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
        return;
    };
    let mut upkeep = Instant::now();
    while !stop.load(Ordering::Relaxed) {
        if upkeep.elapsed() >= Duration::from_secs(5) {
            handle.run_upkeep();
            upkeep = Instant::now();
        }
        let Ok(Ok((stream, _))) =
            tokio::time::timeout(Duration::from_secs(1), listener.accept()).await
        else {
            continue;
        };
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let (handle, boards) = (handle.clone(), boards.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                let response = respond(req.uri().path(), &handle, &boards, started);
                async move { Ok::<_, std::convert::Infallible>(response) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn respond(
    path: &str,
    handle: &PrometheusHandle,
    boards: &[StatusBoard],
    started: Instant,
) -> Response<Full<Bytes>> {
    let states: Vec<_> = boards
        .iter()
        .map(|b| b.lock().unwrap_or_else(|p| p.into_inner()).clone())
        .collect();
    // One pipeline: its own fields; several (`pulse serve`): one entry each.
    let one_or_all = |v: Vec<serde_json::Value>| match <[_; 1]>::try_from(v) {
        Ok([one]) => one,
        Err(all) => serde_json::Value::Array(all),
    };
    let (status, kind, body) = match path {
        "/metrics" => (StatusCode::OK, "text/plain; version=0.0.4", handle.render()),
        "/healthz" => {
            let each = states
                .iter()
                .map(|st| {
                    serde_json::json!({
                        "live": st.live,
                        "pipeline": st.pipeline,
                        "uptime_s": started.elapsed().as_secs_f64(),
                        "records_in": st.records_in,
                        "records_out": st.records_out,
                    })
                })
                .collect();
            let body = match one_or_all(each) {
                serde_json::Value::Array(all) => serde_json::json!({
                    "live": states.iter().any(|s| s.live),
                    "pipelines": all,
                }),
                one => one,
            };
            (StatusCode::OK, "application/json", body.to_string())
        }
        "/debug/graph" => {
            let each = states
                .iter()
                .map(|st| serde_json::to_value(st).unwrap_or_default())
                .collect();
            let body = serde_json::to_string_pretty(&one_or_all(each)).unwrap_or_default();
            (StatusCode::OK, "application/json", body)
        }
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain",
            "not found; try /metrics, /healthz or /debug/graph\n".to_string(),
        ),
    };
    Response::builder()
        .status(status)
        .header("content-type", kind)
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response")
}
