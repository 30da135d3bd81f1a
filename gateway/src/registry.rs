//! The [`Registry`] of identified devices on this gateway: IMEI → the session holding it.
//! Registering a device that already has a session returns the older one so the caller can
//! close it (a device reconnecting to the same gateway); [`Registry::superseded`] answers the
//! same question for a login seen on another gateway.
//!
//! A session is held as the `Recipient` of the one message the registry's callers send it,
//! [`TakeOver`], not as `Addr<Session>`, so this module does not depend on the session's.

use crate::messages::TakeOver;
use actix::Recipient;
use dashmap::DashMap;
use std::time::SystemTime;

struct Entry {
    session_id: String,
    session: Recipient<TakeOver>,
    since: SystemTime,
}

#[derive(Default)]
pub(crate) struct Registry {
    devices: DashMap<String, Entry>,
}

impl Registry {
    /// Records that `session_id` now holds `imei`; returns the session it replaced, if any.
    pub(crate) fn register(
        &self,
        imei: &str,
        session_id: &str,
        session: Recipient<TakeOver>,
        since: SystemTime,
    ) -> Option<Recipient<TakeOver>> {
        let old = self.devices.insert(
            imei.to_owned(),
            Entry {
                session_id: session_id.to_owned(),
                session,
                since,
            },
        );
        old.filter(|e| e.session_id != session_id)
            .map(|e| e.session)
    }

    /// Forgets `imei` if `session_id` still holds it.
    pub(crate) fn unregister(&self, imei: &str, session_id: &str) {
        self.devices
            .remove_if(imei, |_, e| e.session_id == session_id);
    }

    /// The local session to close because `session_id` logged in for `imei` at `at`
    /// elsewhere: only a different session that identified itself no later than that.
    pub(crate) fn superseded(
        &self,
        imei: &str,
        session_id: &str,
        at: SystemTime,
    ) -> Option<Recipient<TakeOver>> {
        let e = self.devices.get(imei)?;
        (e.session_id != session_id && e.since <= at).then(|| e.session.clone())
    }
}
