//! Building `Address` messages the same way for every provider.

use astra_proto::v1::{Address, AddressSource};

/// The parts of an address as a provider names them.
#[derive(Debug, Default, Clone)]
pub struct Parts<'a> {
    pub house_number: &'a str,
    pub street: &'a str,
    pub locality: &'a str,
    pub postcode: &'a str,
    pub region: &'a str,
    pub country_code: &'a str,
    /// Used as the formatted line when none of the above is known (e.g. "North Sea").
    pub fallback_line: &'a str,
}

/// An `Address` from `parts`, trimmed, the country code upper case, with its formatted line.
pub fn build(parts: &Parts<'_>, source: AddressSource) -> Address {
    let mut a = Address {
        house_number: parts.house_number.trim().to_owned(),
        street: parts.street.trim().to_owned(),
        locality: parts.locality.trim().to_owned(),
        postcode: parts.postcode.trim().to_owned(),
        region: parts.region.trim().to_owned(),
        country_code: parts.country_code.trim().to_ascii_uppercase(),
        formatted: String::new(),
        source: source as i32,
    };
    a.formatted = formatted(&a);
    if a.formatted.is_empty() {
        parts.fallback_line.trim().clone_into(&mut a.formatted);
    }
    a
}

/// One line for people: `"<house number> <street>, <locality>"` when the street is known
/// (`"A34, Winchester"`, `"12 High Street, Winchester"`), otherwise
/// `"<locality>, <region>, <country code>"` (`"Winchester, England, GB"`), leaving out what is
/// empty.
pub fn formatted(a: &Address) -> String {
    let street = if a.street.is_empty() {
        String::new()
    } else {
        join(" ", &[&a.house_number, &a.street])
    };
    if street.is_empty() {
        join(", ", &[&a.locality, &a.region, &a.country_code])
    } else {
        join(", ", &[&street, &a.locality])
    }
}

/// An address that says nothing: a provider found no place there. Cached like any answer (so
/// the cell is not asked again) but not put on positions.
pub fn is_empty(a: &Address) -> bool {
    a.formatted.is_empty()
}

fn join(sep: &str, parts: &[&str]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(sep)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        let a = build(
            &Parts {
                street: "A34",
                locality: "Winchester",
                region: "England",
                country_code: "gb",
                ..Default::default()
            },
            AddressSource::Nominatim,
        );
        assert_eq!(a.formatted, "A34, Winchester");
        assert_eq!(a.country_code, "GB");
        let a = build(
            &Parts {
                house_number: "12",
                street: "High Street",
                locality: "Winchester",
                ..Default::default()
            },
            AddressSource::Photon,
        );
        assert_eq!(a.formatted, "12 High Street, Winchester");
        let a = build(
            &Parts {
                house_number: "12",
                locality: "Winchester",
                region: "England",
                country_code: "GB",
                ..Default::default()
            },
            AddressSource::Offline,
        );
        assert_eq!(a.formatted, "Winchester, England, GB");
        let a = build(
            &Parts {
                fallback_line: "North Sea",
                ..Default::default()
            },
            AddressSource::Nominatim,
        );
        assert_eq!(a.formatted, "North Sea");
        assert!(is_empty(&build(
            &Parts::default(),
            AddressSource::Nominatim
        )));
    }
}
