"""TierService and feed refusals through the real hub: each with its status and reason.

Status matches need a link, a current tier, a recognition the hub may apply (an accepted
agreement, or canonical levels both partners opted into) and respect the frequency window
(DESIGN §3.5); bad ladders and rules name their fields (§4.3); another partner's ppid is
answered like an unknown one (§7 inv. 8); nothing refused is written (§7 inv. 9).
"""
