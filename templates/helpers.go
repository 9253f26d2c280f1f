package templates

import "strconv"

func seedText(s uint64) string { return strconv.FormatUint(s, 10) }
