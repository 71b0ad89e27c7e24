package invites

import "time"

const (
	SignInsPerHour = 5
	SignInTTL      = 10 * time.Minute
	SessionIdle    = 12 * time.Hour
	SessionMaxAge  = 7 * 24 * time.Hour
)

func (s *Service) SignInURL(token string) string { return s.cfg.PublicURL + "/login/confirm?" + token }
