"""Privacy after the full demo (issue 7 item 6; DESIGN §3.2, §7 inv. 8; STYLE 9 and 16).

`coalition demo --exit` runs here in-process, exactly as `partners.demo_setup.run_demo` runs it
(scratch database and home, the CLI's short transfer timeout, the night's settlement at the
end), with three observers attached: a root log handler at DEBUG, an in-memory span exporter
on the hub's telemetry, and a hook on every response the brands receive. The hub database is
read after every state-changing response and once more at the end, every table reflected.

Then everything is scanned:

- every row of every table, for the member numbers the reference programs' own stores held
  (the hub may hold ppids; never an e-mail or a partner member number, §7.8), for e-mail
  addresses, for live link codes and for private keys;
- every log line and every span (name, attributes, events, resource), for the same member
  data, for secrets (private keys and their derived keys, request, response, event, quote and
  statement signatures, link codes) in raw, hex and base64 forms, and for ppids: a ppid may
  only appear where the only partner named is the partner it belongs to.

The scanners are plain functions, shown first to find planted data."""
