//! `firegrid-server serve`: the HTTP server on a listening address, with graceful shutdown on
//! Ctrl-C or SIGTERM (requests in flight finish; nothing acknowledged is lost either way,
//! because every acknowledgement follows a durable commit).

use std::net::SocketAddr;
use std::sync::Arc;

use crate::admin::DataDir;
use crate::http::{AppState, app};
use crate::sync::compact::Compactor;

/// How often expired tokens are deleted.
const PURGE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// How often the compaction looks for work when there was none.
const COMPACTION_IDLE: std::time::Duration = std::time::Duration::from_millis(500);

/// Serves until a shutdown signal.
pub async fn serve(listen: SocketAddr, data: DataDir) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    serve_on(listener, data).await
}

/// Serves on a bound listener until a shutdown signal.
pub async fn serve_on(listener: tokio::net::TcpListener, data: DataDir) -> Result<(), String> {
    let mut state = AppState::new(data.storage.clone(), data.accounts.clone());
    state.blobs = data.blobs.clone();
    let state = Arc::new(state);
    // Folds logged changes into document snapshots in the background; stops with the server.
    let _compactor = Compactor::spawn(data.storage.clone(), COMPACTION_IDLE);
    // Expired tokens are deleted hourly, so the token table does not only grow.
    let accounts = data.accounts.clone();
    let purge = tokio::spawn(async move {
        let mut every = tokio::time::interval(PURGE_EVERY);
        loop {
            every.tick().await;
            let accounts = accounts.clone();
            let now = firegrid_core::vocab::now_ms();
            match tokio::task::spawn_blocking(move || accounts.purge_expired(now)).await {
                Ok(Ok(n)) if n > 0 => tracing::info!(tokens = n, "expired tokens deleted"),
                Ok(Ok(_)) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "cannot delete expired tokens"),
                Err(e) => tracing::warn!(error = %e, "token purge stopped"),
            }
        }
    });
    // Abandoned photo uploads (no chunk for 7 days) are deleted hourly, freeing their quota.
    let expire = data.blobs.clone().map(|blobs| {
        tokio::spawn(async move {
            let mut every = tokio::time::interval(PURGE_EVERY);
            loop {
                every.tick().await;
                let blobs = blobs.clone();
                let now = firegrid_core::vocab::now_ms();
                match tokio::task::spawn_blocking(move || {
                    blobs.expire_abandoned(now, crate::blobs::ABANDONED_AFTER_MS)
                })
                .await
                {
                    Ok(Ok(n)) if n > 0 => tracing::info!(uploads = n, "abandoned uploads expired"),
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => tracing::warn!(error = %e, "cannot expire abandoned uploads"),
                    Err(e) => tracing::warn!(error = %e, "upload expiry stopped"),
                }
            }
        })
    });
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(listen = %addr, "firegrid-server listening");
    }
    let served = axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| e.to_string());
    purge.abort();
    if let Some(expire) = expire {
        expire.abort();
    }
    served
}

/// Serves on a free port of 127.0.0.1 from a background thread with its own runtime (tests and
/// benches); returns the base URL once the port is bound.
pub fn spawn_local(data: DataDir) -> Result<String, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build();
        let result = runtime.map_err(|e| e.to_string()).and_then(|rt| {
            rt.block_on(async {
                let listener =
                    tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
                serve_on(listener, data).await
            })
        });
        if let Err(e) = result {
            tracing::error!(error = %e, "background server stopped");
        }
    });
    Ok(format!("http://{addr}"))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down");
}
