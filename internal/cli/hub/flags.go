package hub

import "flag"

func flagSetFromGo() *flag.FlagSet { return flag.NewFlagSet("zap", flag.ContinueOnError) }
