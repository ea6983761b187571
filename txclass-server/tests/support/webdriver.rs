//! A small W3C WebDriver client: the commands the console test sends to chromedriver, as JSON
//! over the workspace's reqwest.
//!
//! Why not a crate? `thirtyfour` turns on serde_json's `preserve_order` for the whole test
//! build, which changes the order of the JSON the server writes under test (an SSE unit test
//! caught it), and `fantoccini` brings a second `http`, `cookie` and ICU stack. The protocol
//! part used here is a dozen endpoints.

use std::path::Path;
use std::sync::Arc;

use base64::Engine;
use serde_json::{json, Value};

/// What a command can fail with: the endpoint and WebDriver's error, as text.
pub type Result<T> = std::result::Result<T, String>;

/// The key under which WebDriver returns an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One browser session.
pub struct Browser {
    http: reqwest::Client,
    /// `<driver>/session/<id>`.
    session: String,
}

/// An element of the current page.
pub struct Element {
    browser: Arc<Browser>,
    id: String,
}

impl Browser {
    /// Opens a session of the Chromium at `binary` with these command-line `args`.
    pub async fn start(driver: &str, binary: &Path, args: &[&str]) -> Result<Arc<Self>> {
        let http = reqwest::Client::new();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": binary, "args": args},
        }}});
        let value = send(
            http.post(format!("{driver}/session")).json(&caps),
            "session",
        )
        .await?;
        let id = value["sessionId"]
            .as_str()
            .ok_or_else(|| format!("new session: no sessionId in {value}"))?;
        Ok(Arc::new(Self {
            http,
            session: format!("{driver}/session/{id}"),
        }))
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value> {
        let url = format!("{}{path}", self.session);
        send(self.http.post(url).json(&body), path).await
    }

    async fn get(&self, path: &str) -> Result<Value> {
        send(self.http.get(format!("{}{path}", self.session)), path).await
    }

    /// Loads `url` and waits for the page's load event.
    pub async fn goto(&self, url: &str) -> Result<()> {
        self.post("/url", json!({ "url": url })).await.map(drop)
    }

    /// The first element matching a CSS selector.
    pub async fn find(self: &Arc<Self>, css: &str) -> Result<Element> {
        let v = self
            .post("/element", json!({"using": "css selector", "value": css}))
            .await?;
        let id = v[ELEMENT]
            .as_str()
            .ok_or_else(|| format!("{css}: no element reference in {v}"))?;
        Ok(Element {
            browser: Arc::clone(self),
            id: id.to_owned(),
        })
    }

    /// Runs `script` (a function body) in the page; its return value as JSON.
    pub async fn execute(&self, script: &str) -> Result<Value> {
        self.post("/execute/sync", json!({"script": script, "args": []}))
            .await
    }

    /// Saves a PNG of the window.
    pub async fn screenshot(&self, path: &Path) -> Result<()> {
        let b64 = self.get("/screenshot").await?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().unwrap_or_default())
            .map_err(|e| format!("screenshot: {e}"))?;
        std::fs::write(path, png).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Ends the session (and the browser).
    pub async fn quit(&self) -> Result<()> {
        send(self.http.delete(&self.session), "delete session")
            .await
            .map(drop)
    }
}

impl Element {
    fn path(&self, command: &str) -> String {
        format!("/element/{}/{command}", self.id)
    }

    /// Clicks it (an `<option>` is selected, firing `change`).
    pub async fn click(&self) -> Result<()> {
        self.browser
            .post(&self.path("click"), json!({}))
            .await
            .map(drop)
    }

    /// Empties an input.
    pub async fn clear(&self) -> Result<()> {
        self.browser
            .post(&self.path("clear"), json!({}))
            .await
            .map(drop)
    }

    /// Types `text` into it, key by key.
    pub async fn send_keys(&self, text: &str) -> Result<()> {
        self.browser
            .post(&self.path("value"), json!({ "text": text }))
            .await
            .map(drop)
    }

    /// Its rendered text.
    pub async fn text(&self) -> Result<String> {
        let v = self.browser.get(&self.path("text")).await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// Whether it is enabled (a button without `disabled`).
    pub async fn is_enabled(&self) -> Result<bool> {
        let v = self.browser.get(&self.path("enabled")).await?;
        Ok(v == true)
    }
}

/// Sends a command; its `value`, or WebDriver's error for `what`.
async fn send(req: reqwest::RequestBuilder, what: &str) -> Result<Value> {
    let res = req.send().await.map_err(|e| format!("{what}: {e}"))?;
    let status = res.status();
    let body: Value = res.json().await.map_err(|e| format!("{what}: {e}"))?;
    let value = body["value"].clone();
    if status.is_success() {
        Ok(value)
    } else {
        Err(format!(
            "{what}: {status} {}: {}",
            value["error"].as_str().unwrap_or("?"),
            value["message"].as_str().unwrap_or("?")
        ))
    }
}
