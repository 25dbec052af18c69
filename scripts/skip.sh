# Sourced by the test scripts: the shell side of tests/common.rs's `skip`.
# skip TEST NEED REASON: fails (status 1) when $EMOCUE_REQUIRE (a comma list, or `all`)
# names NEED; otherwise prints "skip TEST [NEED]: REASON" and appends it to
# $EMOCUE_SKIP_LOG when set (scripts/test.sh lists that file at the end).
skip() {
  local test=$1 need=$2 reason=$3
  case ",${EMOCUE_REQUIRE:-}," in
    *",$need,"* | *",all,"*)
      echo "$test cannot run: $reason; EMOCUE_REQUIRE=$EMOCUE_REQUIRE says \`$need\` must be available" >&2
      return 1 ;;
  esac
  echo "skip $test [$need]: $reason"
  if [ -n "${EMOCUE_SKIP_LOG:-}" ]; then
    echo "skip $test [$need]: $reason" >> "$EMOCUE_SKIP_LOG"
  fi
}
