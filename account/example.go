package account

import _ "embed"

// Example is an annotated configuration file, printed by
// 'outbox config example'. It loads without errors.
//
//go:embed example.toml
var Example string
