package jobs_test

import (
	"errors"

	"github.com/riverqueue/river/rivertype"
)

func asCancel(err error, target **rivertype.JobCancelError) bool { return errors.As(err, target) }
func asSnooze(err error, target **rivertype.JobSnoozeError) bool { return errors.As(err, target) }
