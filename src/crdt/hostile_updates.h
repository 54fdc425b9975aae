#pragma once
// Updates shaped like the attacks of docs/ERRORS.md ("Hostile input"), made byte by byte: the
// unit tests, the fuzz seeds and `tandem doc` tests use them. Valid Yjs v1 updates unless a name
// says otherwise; none of them is something an editor would send.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "crdt/id.h"

namespace tandem::crdt {

using Bytes = std::vector<uint8_t>;

// `levels` Y.Arrays nested in one another under root array "a", all by `client` at clocks
// 0..levels-1: the outermost at clock 0.
Bytes NestedArraysUpdate(ClientId client, size_t levels);
// Deletes [clock, clock + len) of `client`.
Bytes DeleteRangeUpdate(ClientId client, Clock clock, uint64_t len);
// `clients` client groups of one struct each (clients first_client, first_client + 1, ...),
// each inserting "x" at the start of root text "t".
Bytes ManyClientsUpdate(size_t clients, ClientId first_client = 1);
// `count` strings of `bytes_each` bytes by `client` starting at clock `first_clock`, each after
// the previous one: structs that wait as pending when the client's earlier clocks are missing
// (from clock 0 on, a plain insertion into root text "t").
Bytes GappedTextUpdate(ClientId client, Clock first_clock, size_t count, size_t bytes_each);

}  // namespace tandem::crdt
