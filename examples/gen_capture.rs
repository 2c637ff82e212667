//! Writes a synthetic NDJSON capture of Stripe-style webhook events (about 600 bytes each) to
//! stdout, for `scripts/bench-replay.sh`. Deterministic: the same size gives the same bytes.
//!
//! Usage: `gen_capture MEGABYTES > capture.ndjson`

use std::io::{self, BufWriter, Write};

const TYPES: [&str; 6] = [
    "charge.succeeded",
    "charge.refunded",
    "invoice.paid",
    "customer.created",
    "payment_intent.succeeded",
    "charge.failed",
];
const CURRENCIES: [&str; 4] = ["usd", "eur", "gbp", "jpy"];

/// xorshift64*: enough variety for realistic ids and amounts.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn id(&mut self, prefix: &str, len: usize) -> String {
        const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut s = String::with_capacity(prefix.len() + len);
        s.push_str(prefix);
        for _ in 0..len {
            s.push(ALPHABET[(self.next() % ALPHABET.len() as u64) as usize] as char);
        }
        s
    }
}

fn main() -> io::Result<()> {
    let megabytes: u64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| io::Error::other("usage: gen_capture MEGABYTES"))?;
    let target = megabytes * 1_000_000;
    let mut out = BufWriter::with_capacity(1 << 20, io::stdout().lock());
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut written = 0u64;
    let mut n = 0u64;
    while written < target {
        n += 1;
        let amount = rng.next() % 100_000;
        let paid = !rng.next().is_multiple_of(10);
        let line = format!(
            concat!(
                r#"{{"id":"{evt}","object":"event","api_version":"2024-06-20","created":{created},"#,
                r#""data":{{"object":{{"id":"{ch}","object":"charge","amount":{amount},"#,
                r#""amount_captured":{amount},"currency":"{currency}","#,
                r#""customer":"{cus}","description":"Order #{order}","paid":{paid},"#,
                r#""status":"{status}","#,
                r#""billing_details":{{"name":"Customer {email}","address":{{"country":"US","postal_code":"{zip}"}}}},"#,
                r#""metadata":{{"order_id":"{order}"}}}}}},"#,
                r#""livemode":false,"pending_webhooks":1,"#,
                r#""request":{{"id":"{req}","idempotency_key":"{idem}"}},"type":"{kind}"}}"#,
                "\n"
            ),
            evt = rng.id("evt_", 24),
            created = 1_717_000_000 + n * 7,
            ch = rng.id("ch_", 24),
            amount = amount,
            currency = CURRENCIES[(rng.next() % 4) as usize],
            cus = rng.id("cus_", 14),
            order = rng.next() % 1_000_000,
            paid = paid,
            status = if paid { "succeeded" } else { "failed" },
            email = rng.next() % 100_000,
            zip = 10_000 + rng.next() % 89_999,
            req = rng.id("req_", 14),
            idem = rng.id("", 20),
            kind = TYPES[(rng.next() % TYPES.len() as u64) as usize],
        );
        out.write_all(line.as_bytes())?;
        written += line.len() as u64;
    }
    out.flush()
}
