//! Long-running client processes (`regchainctl watch`, `etcdctl lock`...) whose output is
//! collected line by line as it comes, and which are always killed.

use std::{
	io::{BufRead, BufReader, Read},
	process::{Child, Command, ExitStatus, Stdio},
	sync::{Arc, Mutex},
	time::Duration,
};

use anyhow::{anyhow, Context, Result};
use serde_json::Value;

use crate::wait_for;

/// A child process whose stdout lines and stderr are collected in the background.
pub struct Proc {
	name: String,
	child: Option<Child>,
	lines: Arc<Mutex<Vec<String>>>,
	stderr: Arc<Mutex<String>>,
}

impl Proc {
	/// Starts `command` with stdin closed, naming it `name` in messages.
	pub fn start(name: &str, mut command: Command) -> Result<Self> {
		let mut child = command
			.stdin(Stdio::null())
			.stdout(Stdio::piped())
			.stderr(Stdio::piped())
			.spawn()
			.with_context(|| format!("starting {name}: {command:?}"))?;
		let lines = Arc::new(Mutex::new(Vec::new()));
		let stderr = Arc::new(Mutex::new(String::new()));
		let out = child.stdout.take().context("stdout")?;
		let sink = lines.clone();
		std::thread::spawn(move || {
			for line in BufReader::new(out).lines().map_while(|l| l.ok()) {
				sink.lock().unwrap().push(line);
			}
		});
		let mut err = child.stderr.take().context("stderr")?;
		let sink = stderr.clone();
		std::thread::spawn(move || {
			let mut text = String::new();
			let _ = err.read_to_string(&mut text);
			sink.lock().unwrap().push_str(&text);
		});
		Ok(Proc { name: name.to_string(), child: Some(child), lines, stderr })
	}

	/// The process id.
	pub fn pid(&self) -> i32 {
		self.child.as_ref().map(|c| c.id() as i32).unwrap_or(0)
	}

	/// Sends `signal` (`libc::SIGINT`...).
	pub fn signal(&self, signal: i32) {
		// SAFETY: sending a signal to a child process this harness started and has not reaped.
		unsafe {
			libc::kill(self.pid(), signal);
		}
	}

	/// The stdout lines so far.
	pub fn lines(&self) -> Vec<String> {
		self.lines.lock().unwrap().clone()
	}

	/// The stdout lines so far that are JSON.
	pub fn items(&self) -> Vec<Value> {
		self.lines().iter().filter_map(|l| serde_json::from_str(l).ok()).collect()
	}

	/// Waits until `done` holds for the stdout lines so far; fails if the process exits first.
	pub fn wait_lines<T>(
		&mut self,
		what: &str,
		timeout: Duration,
		done: impl Fn(&[String]) -> Option<T>,
	) -> Result<T> {
		let name = self.name.clone();
		let found = wait_for(&format!("{name}: {what}"), timeout, || {
			if let Some(found) = done(&self.lines()) {
				return Some(Ok(found));
			}
			if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
				// Output may still be in flight when the process has just exited.
				std::thread::sleep(Duration::from_millis(200));
				if let Some(found) = done(&self.lines()) {
					return Some(Ok(found));
				}
				return Some(Err(anyhow!(
					"{name} exited ({status}) before {what}: {}",
					self.stderr()
				)));
			}
			None
		});
		match found {
			Ok(result) => result,
			Err(e) => Err(anyhow!("{e}; stdout: {:?}; stderr: {}", self.lines(), self.stderr())),
		}
	}

	/// Waits for a JSON output line matching `pred`; returns it.
	pub fn wait_item(
		&mut self,
		what: &str,
		timeout: Duration,
		pred: impl Fn(&Value) -> bool,
	) -> Result<Value> {
		self.wait_lines(what, timeout, |lines| {
			lines
				.iter()
				.filter_map(|l| serde_json::from_str::<Value>(l).ok())
				.find(|i| pred(i))
		})
	}

	/// Waits for the process to exit.
	pub fn wait_exit(&mut self, timeout: Duration) -> Result<ExitStatus> {
		let name = self.name.clone();
		let child = self.child.as_mut().ok_or_else(|| anyhow!("{name} already reaped"))?;
		wait_for(&format!("{name} to exit"), timeout, || child.try_wait().ok().flatten())
	}

	/// What it printed on stderr so far.
	pub fn stderr(&self) -> String {
		self.stderr.lock().unwrap().clone()
	}
}

impl Drop for Proc {
	fn drop(&mut self) {
		if let Some(mut child) = self.child.take() {
			if std::thread::panicking() {
				eprintln!(
					"---- {} ----\nstdout: {:?}\nstderr: {}",
					self.name,
					self.lines(),
					self.stderr()
				);
			}
			// A stopped process must be continued to die of SIGKILL promptly everywhere.
			// SAFETY: signalling a child this harness started and has not reaped.
			unsafe {
				libc::kill(child.id() as i32, libc::SIGCONT);
			}
			let _ = child.kill();
			let _ = child.wait();
		}
	}
}
