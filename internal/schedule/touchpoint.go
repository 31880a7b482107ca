package schedule

import "time"

// TouchPointDay is the wave of a touch-point campaign that an event due at due belongs to: the
// day, in loc, on which it fell due. Its id is "tp-" and the date ("tp-20261208"); it opens at
// the day's start and closes window after the day's end, so that an invitation sent on the
// day, however late, has at least the whole window. The manager and the sender both compute
// it (campaign.TouchPointWave).
func TouchPointDay(due time.Time, loc *time.Location, window time.Duration) (id string, opens, closes time.Time) {
	d := due.In(loc)
	opens = time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc)
	return "tp-" + opens.Format("20060102"), opens, opens.AddDate(0, 0, 1).Add(window)
}

// TouchPointDayOf is the wave whose id is id ("tp-20261208"), in loc, as TouchPointDay gives
// it; false when id is not one.
func TouchPointDayOf(id string, loc *time.Location, window time.Duration) (opens, closes time.Time, ok bool) {
	day, err := time.ParseInLocation("tp-20060102", id, loc)
	if err != nil {
		return time.Time{}, time.Time{}, false
	}
	_, opens, closes = TouchPointDay(day, loc, window)
	return opens, closes, true
}
