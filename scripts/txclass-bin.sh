# Sourced by the scripts that run the txclass binary: sets TX to $TXCLASS_BIN when given (to
# measure or train with another build), else builds this checkout's release binary. Cargo's
# messages go to stderr, so a script's stdout stays its own.
if [ -n "${TXCLASS_BIN:-}" ]; then
  TX=$TXCLASS_BIN
else
  cargo build --release -q -p txclass-cli >&2
  TX=target/release/txclass
fi
