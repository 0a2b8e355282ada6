//! Event times: nanoseconds since the Unix epoch in the model and recordings, RFC 3339 with
//! nanoseconds in JSON and on screen.
/// Timestamps: RFC 3339 with nanoseconds in JSON, nanoseconds since the epoch elsewhere.
pub(super) mod wall_time {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(timestamp_ns: &u64, serializer: S) -> Result<S::Ok, S::Error> {
        if serializer.is_human_readable() {
            serializer.serialize_str(&super::rfc3339(*timestamp_ns))
        } else {
            serializer.serialize_u64(*timestamp_ns)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        if !deserializer.is_human_readable() {
            return u64::deserialize(deserializer);
        }
        let text = String::deserialize(deserializer)?;
        let time: jiff::Timestamp = text.parse().map_err(D::Error::custom)?;
        u64::try_from(time.as_nanosecond()).map_err(D::Error::custom)
    }
}

/// RFC 3339 UTC time with nanoseconds.
pub fn rfc3339(timestamp_ns: u64) -> String {
    match jiff::Timestamp::from_nanosecond(i128::from(timestamp_ns)) {
        Ok(time) => format!("{time:.9}"),
        Err(_) => timestamp_ns.to_string(),
    }
}
