//! The payment state machine: the one place that decides which state may follow which.
//!
//! Codes 5–11 and their names are fixed by seed 003 (`payment_status`,
//! `payment_status_state`); 1–4, 12 and 13 are Settle's own. Every other module asks
//! [`PaymentState::transition`] before it changes a payment's state, so an illegal move is an
//! error rather than a silent overwrite.
//!
//! A state that is [final](PaymentState::is_final) has concluded the customer's payment flow:
//! polling stops and the reconciliation sweep leaves it alone. `POLICY_CONVERTED` is final yet
//! can still be refunded later; `PAYMENT_SUCCESS` and `CONVERTING_POLICY` are not final because
//! fulfilment (activating the service) still follows.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, FieldError};

/// Where a payment is in its life. See the module documentation and [`markdown_table`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PaymentState {
    /// 1: recorded, nothing sent to a gateway yet.
    Created,
    /// 2: the customer was sent to a hosted page or payment link.
    AwaitingCustomer,
    /// 3: sent to the gateway, its outcome not known yet: possibly charged, so only the
    /// gateway's word settles it (a direct-debit collection waits here for days).
    Processing,
    /// 4: to be paid against an invoice.
    Invoiced,
    /// 5: waiting for the customer's 3-D Secure challenge.
    Payment3dAuth,
    /// 6: the money was taken.
    PaymentSuccess,
    /// 7: the gateway declined; the customer may try again with a new payment.
    PaymentFailed,
    /// 8: an unrecoverable error.
    TerminalError,
    /// 9: no answer in time.
    TimedOut,
    /// 10: paid; the service (policy) is being activated.
    ConvertingPolicy,
    /// 11: paid and the service (policy) is active.
    PolicyConverted,
    /// 12: the money was given back.
    Refunded,
    /// 13: abandoned before any money moved.
    Cancelled,
}

use PaymentState::*;

impl PaymentState {
    /// Every state, in code order.
    pub const ALL: [PaymentState; 13] = [
        Created,
        AwaitingCustomer,
        Processing,
        Invoiced,
        Payment3dAuth,
        PaymentSuccess,
        PaymentFailed,
        TerminalError,
        TimedOut,
        ConvertingPolicy,
        PolicyConverted,
        Refunded,
        Cancelled,
    ];

    /// The numeric code (seed 003's `payment_status`).
    pub fn code(self) -> i16 {
        match self {
            Created => 1,
            AwaitingCustomer => 2,
            Processing => 3,
            Invoiced => 4,
            Payment3dAuth => 5,
            PaymentSuccess => 6,
            PaymentFailed => 7,
            TerminalError => 8,
            TimedOut => 9,
            ConvertingPolicy => 10,
            PolicyConverted => 11,
            Refunded => 12,
            Cancelled => 13,
        }
    }

    /// The state for a numeric code, if there is one.
    pub fn from_code(code: i16) -> Option<PaymentState> {
        PaymentState::ALL.into_iter().find(|s| s.code() == code)
    }

    /// The name (seed 003's `payment_status_state`), e.g. `PAYMENT_SUCCESS`.
    pub fn name(self) -> &'static str {
        match self {
            Created => "CREATED",
            AwaitingCustomer => "AWAITING_CUSTOMER",
            Processing => "PROCESSING",
            Invoiced => "INVOICED",
            Payment3dAuth => "PAYMENT_3DAUTH",
            PaymentSuccess => "PAYMENT_SUCCESS",
            PaymentFailed => "PAYMENT_FAILED",
            TerminalError => "TERMINAL_ERROR",
            TimedOut => "TIMED_OUT",
            ConvertingPolicy => "CONVERTING_POLICY",
            PolicyConverted => "POLICY_CONVERTED",
            Refunded => "REFUNDED",
            Cancelled => "CANCELLED",
        }
    }

    /// What the state means, one sentence for operators and the README.
    pub fn meaning(self) -> &'static str {
        match self {
            Created => "Payment recorded, nothing sent to a gateway yet.",
            AwaitingCustomer => "Customer sent to a hosted payment page or payment link.",
            Processing => {
                "Sent to the gateway, outcome not known yet: possibly charged, so only the gateway's answer settles it."
            }
            Invoiced => "To be paid against an invoice.",
            Payment3dAuth => "Waiting for the customer's 3-D Secure challenge.",
            PaymentSuccess => "Payment has been taken successfully.",
            PaymentFailed => "Payment has failed.",
            TerminalError => "There has been an error during payment that is unrecoverable.",
            TimedOut => "Payment has timed out.",
            ConvertingPolicy => {
                "Payment has been taken and the policy or service is being activated."
            }
            PolicyConverted => {
                "The policy or service is active and the payment process is completed."
            }
            Refunded => "The payment has been refunded to the customer.",
            Cancelled => "The payment was cancelled before any money moved.",
        }
    }

    /// One sentence telling the customer where the payment stands ("Your policy is ready").
    pub fn sentence(self) -> &'static str {
        match self {
            Created => "Your payment has been started",
            AwaitingCustomer => "Waiting for you to complete your payment",
            Processing | Payment3dAuth => "Processing your payment",
            Invoiced => "Your invoice is awaiting payment",
            PaymentSuccess => "Your payment was successful",
            PaymentFailed => "There was a problem with your payment",
            TerminalError => "Your payment could not be completed, please try again later",
            TimedOut => "Your payment timed out, please try again",
            ConvertingPolicy => "Finalizing your policy",
            PolicyConverted => "Your policy is ready",
            Refunded => "Your payment has been refunded",
            Cancelled => "Your payment was cancelled",
        }
    }

    /// A few words for customers, as pages and documents show a payment's state ("Paid",
    /// "Payment failed"), never the code's name.
    pub fn label(self) -> &'static str {
        match self {
            Created => "Started",
            AwaitingCustomer => "Waiting for you to pay",
            Processing => "Processing",
            Invoiced => "Invoiced",
            Payment3dAuth => "Waiting for your bank's check",
            PaymentSuccess => "Paid",
            PaymentFailed => "Payment failed",
            TerminalError => "Could not be completed",
            TimedOut => "Timed out",
            ConvertingPolicy => "Paid",
            PolicyConverted => "Paid",
            Refunded => "Refunded",
            Cancelled => "Cancelled",
        }
    }

    /// The states this one may move to. Anything else, including itself, is illegal.
    pub fn next_states(self) -> &'static [PaymentState] {
        match self {
            Created => &[
                AwaitingCustomer,
                Processing,
                Invoiced,
                Payment3dAuth,
                PaymentSuccess,
                PaymentFailed,
                TerminalError,
                TimedOut,
                Cancelled,
            ],
            AwaitingCustomer => &[
                Processing,
                Payment3dAuth,
                PaymentSuccess,
                PaymentFailed,
                TerminalError,
                TimedOut,
                Cancelled,
            ],
            Processing => &[
                AwaitingCustomer,
                Payment3dAuth,
                PaymentSuccess,
                PaymentFailed,
                TerminalError,
                TimedOut,
            ],
            Payment3dAuth => {
                &[Processing, PaymentSuccess, PaymentFailed, TerminalError, TimedOut, Cancelled]
            }
            Invoiced => &[PaymentSuccess, Cancelled, TimedOut],
            PaymentSuccess => &[ConvertingPolicy, Refunded],
            ConvertingPolicy => &[PolicyConverted],
            PolicyConverted => &[Refunded],
            PaymentFailed | TerminalError | TimedOut | Refunded | Cancelled => &[],
        }
    }

    /// Whether moving to `to` is legal.
    pub fn can_transition_to(self, to: PaymentState) -> bool {
        self.next_states().contains(&to)
    }

    /// Returns `to` if the move is legal, otherwise a conflict naming both states.
    ///
    /// A move to the same state is not a transition and is refused too: callers recognise a
    /// repeated gateway notification as a duplicate before they get here.
    pub fn transition(self, to: PaymentState) -> Result<PaymentState, Error> {
        if self.can_transition_to(to) {
            Ok(to)
        } else {
            Err(Error::Conflict(format!(
                "payment cannot move from {} ({}) to {} ({})",
                self.name(),
                self.code(),
                to.name(),
                to.code()
            )))
        }
    }

    /// Whether the customer's payment flow has concluded: 7, 8, 9, 11, 12 and 13.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            PaymentFailed | TerminalError | TimedOut | PolicyConverted | Refunded | Cancelled
        )
    }

    /// Whether seed 003 counts the state as a successful payment: 6, 10 and 11.
    pub fn is_success(self) -> bool {
        matches!(self, PaymentSuccess | ConvertingPolicy | PolicyConverted)
    }

    /// Whether money changed hands at some point: 6, 10, 11 and 12.
    pub fn money_moved(self) -> bool {
        matches!(self, PaymentSuccess | ConvertingPolicy | PolicyConverted | Refunded)
    }
}

impl fmt::Display for PaymentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Parses the exact name, e.g. `PAYMENT_SUCCESS`.
impl FromStr for PaymentState {
    type Err = FieldError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        PaymentState::ALL
            .into_iter()
            .find(|state| state.name() == s)
            .ok_or_else(|| FieldError::new("state", format!("{s} is not a payment state")))
    }
}

/// Serialized as the name, like seed 003's `payment_status_state`.
impl Serialize for PaymentState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

/// Read from the name.
impl<'de> Deserialize<'de> for PaymentState {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        name.parse().map_err(|e: FieldError| serde::de::Error::custom(e.message))
    }
}

/// The whole state table as Markdown (code | name | meaning | final | next states), so the
/// README's table is generated from this code and can be checked against it.
pub fn markdown_table() -> String {
    let mut out =
        String::from("| code | name | meaning | final | next states |\n|---|---|---|---|---|\n");
    for state in PaymentState::ALL {
        let next = state.next_states();
        let next = if next.is_empty() {
            "—".to_owned()
        } else {
            next.iter().map(|s| format!("`{}`", s.name())).collect::<Vec<_>>().join(", ")
        };
        out.push_str(&format!(
            "| {} | `{}` | {} | {} | {} |\n",
            state.code(),
            state.name(),
            state.meaning(),
            if state.is_final() { "yes" } else { "no" },
            next
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The brief's table, written out independently of `next_states`.
    fn expected_legal(from: PaymentState, to: PaymentState) -> bool {
        let allowed: &[PaymentState] = match from {
            Created => &[
                AwaitingCustomer,
                Processing,
                Invoiced,
                Payment3dAuth,
                PaymentSuccess,
                PaymentFailed,
                TerminalError,
                TimedOut,
                Cancelled,
            ],
            AwaitingCustomer => &[
                Processing,
                Payment3dAuth,
                PaymentSuccess,
                PaymentFailed,
                TerminalError,
                TimedOut,
                Cancelled,
            ],
            Processing => &[
                AwaitingCustomer,
                Payment3dAuth,
                PaymentSuccess,
                PaymentFailed,
                TerminalError,
                TimedOut,
            ],
            Payment3dAuth => {
                &[Processing, PaymentSuccess, PaymentFailed, TerminalError, TimedOut, Cancelled]
            }
            Invoiced => &[PaymentSuccess, Cancelled, TimedOut],
            PaymentSuccess => &[ConvertingPolicy, Refunded],
            ConvertingPolicy => &[PolicyConverted],
            PolicyConverted => &[Refunded],
            PaymentFailed | TerminalError | TimedOut | Refunded | Cancelled => &[],
        };
        allowed.contains(&to)
    }

    #[test]
    fn every_pair_matches_the_table() {
        let mut legal = 0;
        for from in PaymentState::ALL {
            for to in PaymentState::ALL {
                let result = from.transition(to);
                assert_eq!(from.can_transition_to(to), expected_legal(from, to), "{from} -> {to}");
                if expected_legal(from, to) {
                    assert_eq!(result.unwrap(), to, "{from} -> {to}");
                    legal += 1;
                } else {
                    match result {
                        Err(Error::Conflict(message)) => {
                            assert!(message.contains(from.name()), "{message}");
                            assert!(message.contains(to.name()), "{message}");
                        }
                        other => panic!("{from} -> {to} gave {other:?}"),
                    }
                }
            }
        }
        assert_eq!(legal, 9 + 7 + 6 + 6 + 3 + 2 + 1 + 1);
    }

    #[test]
    fn self_loops_are_conflicts() {
        for state in PaymentState::ALL {
            assert!(matches!(state.transition(state), Err(Error::Conflict(_))), "{state}");
        }
    }

    #[test]
    fn seed_003_codes_and_names_are_fixed() {
        for (code, name) in [
            (5, "PAYMENT_3DAUTH"),
            (6, "PAYMENT_SUCCESS"),
            (7, "PAYMENT_FAILED"),
            (8, "TERMINAL_ERROR"),
            (9, "TIMED_OUT"),
            (10, "CONVERTING_POLICY"),
            (11, "POLICY_CONVERTED"),
        ] {
            let state = PaymentState::from_code(code).unwrap();
            assert_eq!(state.name(), name);
            assert_eq!(name.parse::<PaymentState>().unwrap(), state);
        }
    }

    #[test]
    fn codes_and_names_round_trip() {
        for (i, state) in PaymentState::ALL.into_iter().enumerate() {
            assert_eq!(state.code(), i as i16 + 1);
            assert_eq!(PaymentState::from_code(state.code()), Some(state));
            assert_eq!(state.name().parse::<PaymentState>().unwrap(), state);
            assert_eq!(state.to_string(), state.name());
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{}\"", state.name()));
            assert_eq!(serde_json::from_str::<PaymentState>(&json).unwrap(), state);
        }
        assert_eq!(PaymentState::from_code(0), None);
        assert_eq!(PaymentState::from_code(14), None);
        assert_eq!(PaymentState::from_code(-1), None);
        assert!("payment_success".parse::<PaymentState>().is_err());
        assert!("".parse::<PaymentState>().is_err());
    }

    #[test]
    fn classification() {
        let codes = |f: fn(PaymentState) -> bool| {
            PaymentState::ALL
                .into_iter()
                .filter(|s| f(*s))
                .map(PaymentState::code)
                .collect::<Vec<_>>()
        };
        assert_eq!(codes(PaymentState::is_final), [7, 8, 9, 11, 12, 13]);
        assert_eq!(codes(PaymentState::is_success), [6, 10, 11]);
        assert_eq!(codes(PaymentState::money_moved), [6, 10, 11, 12]);
        // States with no way out are all final.
        for state in PaymentState::ALL {
            if state.next_states().is_empty() {
                assert!(state.is_final(), "{state}");
            }
        }
    }

    #[test]
    fn labels_are_words_not_codes() {
        for state in PaymentState::ALL {
            let label = state.label();
            assert!(!label.is_empty() && !label.contains('_'), "{state}: {label}");
            assert_ne!(label, state.name());
        }
        assert_eq!(PolicyConverted.label(), "Paid");
        assert_eq!(PaymentFailed.label(), "Payment failed");
    }

    #[test]
    fn sentences_tell_the_customer_where_it_stands() {
        assert_eq!(Payment3dAuth.sentence(), "Processing your payment");
        assert_eq!(PaymentSuccess.sentence(), "Your payment was successful");
        assert_eq!(PaymentFailed.sentence(), "There was a problem with your payment");
        assert_eq!(ConvertingPolicy.sentence(), "Finalizing your policy");
        assert_eq!(PolicyConverted.sentence(), "Your policy is ready");
        for state in PaymentState::ALL {
            assert!(!state.sentence().is_empty());
            assert!(state.meaning().ends_with('.'));
        }
    }

    #[test]
    fn markdown_table_lists_every_state() {
        let table = markdown_table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 2 + 13);
        assert_eq!(lines[0], "| code | name | meaning | final | next states |");
        assert_eq!(
            lines[6],
            "| 5 | `PAYMENT_3DAUTH` | Waiting for the customer's 3-D Secure challenge. | no | \
             `PROCESSING`, `PAYMENT_SUCCESS`, `PAYMENT_FAILED`, `TERMINAL_ERROR`, `TIMED_OUT`, `CANCELLED` |"
        );
        assert_eq!(
            lines[13],
            "| 12 | `REFUNDED` | The payment has been refunded to the customer. | yes | — |"
        );
        assert!(
            lines[11].starts_with("| 10 | `CONVERTING_POLICY` |") && lines[11].contains("| no |")
        );
    }
}

#[cfg(test)]
mod readme {
    /// The README documents the states; this keeps it from drifting from the code.
    #[test]
    fn readme_carries_the_state_table() {
        let readme = include_str!("../../README.md");
        let table = super::markdown_table();
        assert!(readme.contains(&table), "README.md must contain the state table:\n{table}");
    }
}
