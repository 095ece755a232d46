//! Blanking secrets and card or account data in gateway payloads before they are kept or shown.

use serde_json::Value;

/// Field names that carry card data (number, security code, expiry) as clients and gateways
/// name them; every list of secrets to keep out of storage includes these.
pub const CARD_DATA_KEYS: &[&str] = &[
    "number",
    "card_number",
    "cardnumber",
    "pan",
    "cvv",
    "cv2",
    "cvc",
    "security_code",
    "securityCode",
];

/// What a blanked value becomes.
pub const REDACTED: &str = "[redacted]";

/// A copy of `value` in which every non-null value under one of `keys` (compared without case),
/// at any depth, is replaced by [`REDACTED`]; everything else is kept as the gateway sent it.
pub fn redact(value: &Value, keys: &[&str]) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let secret = keys.iter().any(|s| k.eq_ignore_ascii_case(s));
                    let v = if secret && !v.is_null() {
                        Value::String(REDACTED.into())
                    } else {
                        redact(v, keys)
                    };
                    (k.clone(), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|v| redact(v, keys)).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn named_keys_are_blanked_at_any_depth_and_nothing_else() {
        let raw = json!({
            "card": { "Number": "4462000000000003", "cvv": "123", "last4": "0003" },
            "items": [{ "pan": "4462000000000003", "amount": "10.00" }],
            "cvv": null
        });
        let clean = redact(&raw, &["number", "cvv", "pan"]);
        assert_eq!(clean["card"]["Number"], REDACTED);
        assert_eq!(clean["card"]["cvv"], REDACTED);
        assert_eq!(clean["card"]["last4"], "0003");
        assert_eq!(clean["items"][0]["pan"], REDACTED);
        assert_eq!(clean["items"][0]["amount"], "10.00");
        assert!(clean["cvv"].is_null());
        assert!(!clean.to_string().contains("4462000000000003"));
    }
}
