//! `firegrid-server serve`: the HTTP server on a listening address, with graceful shutdown on
//! Ctrl-C or SIGTERM (requests in flight finish; nothing acknowledged is lost either way,
//! because every acknowledgement follows a durable commit).

use std::net::SocketAddr;
use std::sync::Arc;

use crate::admin::DataDir;
use crate::http::{AppState, app};

/// Serves until a shutdown signal.
pub async fn serve(listen: SocketAddr, data: DataDir) -> Result<(), String> {
    let state = Arc::new(AppState::new(data.storage.clone(), data.accounts.clone()));
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    tracing::info!(%listen, "firegrid-server listening");
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| e.to_string())
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
