"""Use cases: each public function is one database transaction, given ``now`` by its caller."""
