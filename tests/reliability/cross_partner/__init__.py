"""No partner reads or acts on another partner's objects, through any RPC (issue 7 item 5;
DESIGN §4.3, §7 inv. 8 and 9).

skyway and harbor share a linked member, rate and recognition agreements (one version accepted,
one proposed), quotes, a completed and a pending transfer, a tier grant, a live link code, a
settled day and a dispute. orbit, the outsider, is party to none of it; it has its own member,
agreement, transfer and dispute with harbor, so its own reads have something to return.

For every RPC of every coalition.v1 service (enumerated from the generated descriptors; a new
RPC without a case here fails `test_every_rpc_of_every_service_has_a_case`), orbit tries:

- by id (transfer, quote, agreement, dispute, ppid, key, statement line): the refusal must be
  NOT_FOUND or PERMISSION_DENIED and look exactly like the one for an id that does not exist
  (status, ErrorInfo reason, message, fields), and the database must not change;
- batch RPCs: each foreign item's error must equal the unknown item's error;
- reads of its own scope (lists, feed, statement, run, instructions): only orbit's objects;
- directory reads, which are public by design: exactly the bytes skyway itself gets;
- measures (tests/reliability/cross_partner_analytics.py): only pairs and figures it is party to,
  member counts below the release threshold withheld, no coalition total, no other partner's
  programme totals.

Whatever orbit receives, response or refusal, must carry none of the other partners'
identifiers (ppids, cmids, transfer, quote, dispute, agreement, grant, event ids, clearing
references, the link code), and its successful writes must leave the others' view unchanged."""
