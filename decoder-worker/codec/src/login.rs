//! The `$ASTRA;<model>;<imei>;<vin>;<firmware>;<protocol>;<hardware>[;<checksum>]` login line a
//! device sends first in $MODE,6 (PROTOCOL.md §3.2).

use super::error::DecodeError;
use super::frame::line_text;
use super::imei;
use astra_proto::v1::LoginInfo;

/// Parses a login line, with or without its CR LF.
pub fn parse_login(line: &[u8]) -> Result<LoginInfo, DecodeError> {
    let text = std::str::from_utf8(line_text(line))
        .map_err(|_| DecodeError::InvalidLogin("not ASCII".into()))?;
    let mut fields = text.split(';');
    if fields.next() != Some("$ASTRA") {
        return Err(DecodeError::InvalidLogin(format!(
            "does not start with $ASTRA: {}",
            preview(text)
        )));
    }
    let fields: Vec<&str> = fields.take(8).collect();
    let [model, imei, vin, firmware, protocol, hardware, rest @ ..] = fields.as_slice() else {
        return Err(DecodeError::InvalidLogin(format!(
            "{} fields, at least 7 expected",
            fields.len() + 1
        )));
    };
    imei::validate(imei)?;
    if !matches!(*protocol, "X" | "Y" | "Z") {
        return Err(DecodeError::InvalidLogin(format!(
            "protocol id {protocol:?}, expected X, Y or Z"
        )));
    }
    Ok(LoginInfo {
        model: (*model).to_owned(),
        imei: (*imei).to_owned(),
        vin: (*vin).to_owned(),
        firmware: (*firmware).to_owned(),
        protocol: (*protocol).to_owned(),
        hardware_revision: (*hardware).to_owned(),
        settings_checksum: rest.first().map(|s| (*s).to_owned()).unwrap_or_default(),
        line: text.to_owned(),
    })
}

fn preview(text: &str) -> String {
    text.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captured_z_login() {
        let l = parse_login(b"$ASTRA;AT402;860873043967941;;7.0.61.35;Z;0\r\n").unwrap();
        assert_eq!(l.model, "AT402");
        assert_eq!(l.imei, "860873043967941");
        assert_eq!(l.vin, "");
        assert_eq!(l.firmware, "7.0.61.35");
        assert_eq!(l.protocol, "Z");
        assert_eq!(l.hardware_revision, "0");
        assert_eq!(l.settings_checksum, "");
        assert_eq!(l.line, "$ASTRA;AT402;860873043967941;;7.0.61.35;Z;0");
    }

    #[test]
    fn checksum_field() {
        let l = parse_login(b"$ASTRA;AT402;860873045366969;;7.0.70.3;X;1;8A1B\r\n").unwrap();
        assert_eq!(l.protocol, "X");
        assert_eq!(l.settings_checksum, "8A1B");
    }

    #[test]
    fn rejects() {
        assert!(matches!(
            parse_login(b"$ASTRA;AT402;123;;1;X;0"),
            Err(DecodeError::InvalidImei(_))
        ));
        assert!(matches!(
            parse_login(b"$ASTRA;AT402;860873045366969;;1;Q;0"),
            Err(DecodeError::InvalidLogin(_))
        ));
        assert!(matches!(
            parse_login(b"$ASTRA;AT402"),
            Err(DecodeError::InvalidLogin(_))
        ));
        assert!(matches!(
            parse_login(b"$POLL,OK"),
            Err(DecodeError::InvalidLogin(_))
        ));
        assert!(matches!(
            parse_login(&[b'$', 0xff]),
            Err(DecodeError::InvalidLogin(_))
        ));
    }
}
