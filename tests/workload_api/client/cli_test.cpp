// SPDX-License-Identifier: Apache-2.0
// Tests for the `lanyard` CLI (cases arrive with the CLI).
