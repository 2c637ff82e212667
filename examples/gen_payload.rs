//! Writes one Stripe-style webhook event of about BYTES bytes to stdout, for
//! `scripts/bench.sh`. Up to about 600 bytes it is a `charge.succeeded` event like those of
//! `gen_capture`; larger sizes are an `invoice.paid` event whose invoice carries as many line
//! items as it takes. Deterministic: the same size gives the same bytes.
//!
//! Usage: `gen_payload BYTES > payload.json`

use std::io::{self, Write};

fn main() -> io::Result<()> {
    let target: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| io::Error::other("usage: gen_payload BYTES"))?;
    let head = concat!(
        r#"{"id":"evt_1PqR2sT3uV4wX5yZ6aB7cD8e","object":"event","api_version":"2024-06-20","#,
        r#""created":1717000007,"data":{"object":{"id":"ch_3PqR2sT3uV4wX5yZ0fG1hI2j","#,
        r#""object":"charge","amount":4999,"amount_captured":4999,"currency":"usd","#,
        r#""customer":"cus_Q1w2E3r4T5y6U7","description":"Order #482913","paid":true,"#,
        r#""status":"succeeded","billing_details":{"name":"Customer 58213","#,
        r#""address":{"country":"US","postal_code":"94107"}},"#,
        r#""metadata":{"order_id":"482913"}"#
    );
    let tail = concat!(
        r#"}},"livemode":false,"pending_webhooks":1,"#,
        r#""request":{"id":"req_Zx9Yw8Vu7Ts6Rq","idempotency_key":"8f2b6c1e9a7d4e3f0b5c"},"#,
        r#""type":"charge.succeeded"}"#
    );
    let mut out = String::with_capacity(target + 512);
    out.push_str(head);
    let items_open = r#","lines":{"object":"list","data":["#;
    if out.len() + tail.len() < target {
        out.push_str(items_open);
        let mut n = 0u64;
        while out.len() + tail.len() + 2 < target {
            if n > 0 {
                out.push(',');
            }
            n += 1;
            out.push_str(&format!(
                concat!(
                    r#"{{"id":"il_{n:020}","object":"line_item","amount":{amount},"#,
                    r#""currency":"usd","description":"1 x Widget model {model} (at $12.00 / month)","#,
                    r#""period":{{"start":{start},"end":{end}}},"quantity":1,"#,
                    r#""price":{{"id":"price_{model:08}","unit_amount":1200}}}}"#
                ),
                n = n,
                amount = 1200 + n % 700,
                model = n * 7919 % 100_000,
                start = 1_717_000_000 + n,
                end = 1_719_592_000 + n,
            ));
        }
        out.push_str("]}");
    }
    out.push_str(tail);
    io::stdout().write_all(out.as_bytes())
}
