//! The [`Registry`] of identified devices on this gateway: IMEI → the session holding it.
//! Registering a device that already has a session returns the older one so the caller can
//! close it (a device reconnecting to the same gateway); [`Registry::superseded`] answers the
//! same question for a login seen on another gateway.

use crate::session::Session;
use actix::Addr;
use dashmap::DashMap;
use std::time::SystemTime;

struct Entry {
    session_id: String,
    addr: Addr<Session>,
    since: SystemTime,
}

#[derive(Default)]
pub struct Registry {
    devices: DashMap<String, Entry>,
}

impl Registry {
    /// Records that `session_id` now holds `imei`; returns the session it replaced, if any.
    pub fn register(
        &self,
        imei: &str,
        session_id: &str,
        addr: Addr<Session>,
        since: SystemTime,
    ) -> Option<Addr<Session>> {
        let old = self.devices.insert(
            imei.to_owned(),
            Entry {
                session_id: session_id.to_owned(),
                addr,
                since,
            },
        );
        old.filter(|e| e.session_id != session_id).map(|e| e.addr)
    }

    /// Forgets `imei` if `session_id` still holds it.
    pub fn unregister(&self, imei: &str, session_id: &str) {
        self.devices
            .remove_if(imei, |_, e| e.session_id == session_id);
    }

    /// The local session to close because `session_id` logged in for `imei` at `at`
    /// elsewhere: only a different session that identified itself no later than that.
    pub fn superseded(
        &self,
        imei: &str,
        session_id: &str,
        at: SystemTime,
    ) -> Option<Addr<Session>> {
        let e = self.devices.get(imei)?;
        (e.session_id != session_id && e.since <= at).then(|| e.addr.clone())
    }

    pub fn get(&self, imei: &str) -> Option<Addr<Session>> {
        self.devices.get(imei).map(|e| e.addr.clone())
    }

    pub fn len(&self) -> usize {
        self.devices.len()
    }

    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }
}
