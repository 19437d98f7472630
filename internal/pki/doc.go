// Package pki issues the certificates and keys that a local hub runs on: one
// CA for serving and client certificates, and a key pair for signing service
// account tokens. Every key is ECDSA P-256 and every file is written 0600.
package pki
