//! The listener started in this process (`commands::serve::start`) on port 0: its address and
//! first token come back from the call, not from log lines. For tests of what the receiver
//! answers and journals; what only the real binary shows (stdout, signals, exit codes,
//! `kill -9`, its memory) stays with [`Tap`](super::Tap).

use tap_webhooks::commands::serve::{self, Serving};
use tap_webhooks::config::Config;

use super::{Harness, Listener, client};

/// `serve` running in this process on a harness's config. Stopped gracefully by [`stop`]
/// (or on drop, when a test fails first).
///
/// [`stop`]: InProcess::stop
pub struct InProcess {
    serving: Option<Serving>,
    pub base: String,
    /// `http://IP:PORT` of the operations endpoints, with `ops_bind`.
    pub ops_base: Option<String>,
    pub token: String,
    client: reqwest::blocking::Client,
}

impl Harness {
    /// Starts `serve` in this process on this harness's config and returns once it listens.
    /// The first start's token is kept in `self.token`, as with [`Harness::start`].
    pub fn serve_in_process(&mut self) -> InProcess {
        let config = Config::load(&self.config_path).expect("the harness's config is valid");
        let serving = serve::start(config).expect("serve starts in process");
        if let Some(url) = &serving.created_url {
            let token = url.rsplit('/').next().expect("a webhook URL").to_owned();
            assert_eq!(token.len(), 64, "{url}");
            self.token = Some(token);
        }
        InProcess {
            base: format!("http://{}", serving.addr),
            ops_base: serving.ops_addr.map(|addr| format!("http://{addr}")),
            token: self.token.clone().expect("a first start creates a token"),
            serving: Some(serving),
            client: client(),
        }
    }
}

impl InProcess {
    /// Stops gracefully: in-flight requests finish, everything is joined and the data_dir is
    /// released (a drain or the next start may open it).
    pub fn stop(mut self) {
        let serving = self.serving.take().expect("running");
        serving.stop().expect("a graceful stop");
    }
}

impl Listener for InProcess {
    fn base(&self) -> &str {
        &self.base
    }

    fn token(&self) -> &str {
        &self.token
    }

    fn client(&self) -> &reqwest::blocking::Client {
        &self.client
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        if let Some(serving) = self.serving.take() {
            let _ = serving.stop();
        }
    }
}
