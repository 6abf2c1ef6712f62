//+------------------------------------------------------------------+
//| Stream.mqh: the Expert Advisor's tick cursor and reconnect       |
//| back-off, kept apart from the terminal's API so that             |
//| tests/mt5/mql5_cross_check.py can compile and test them as C++.  |
//+------------------------------------------------------------------+

//--- A subscribed symbol's place in its tick stream: the time_msc to copy from (CopyTicks
//--- returns the ticks with time_msc >= from, MQL5 reference, CopyTicks) and how many ticks of
//--- that very millisecond were sent already (several ticks may share one millisecond).
struct AitsTickCursor
  {
   long              from_msc;
   int               skip;
  };

//--- How many ticks to ask CopyTicks for: the ones of the cursor's millisecond sent already
//--- come back first, so they are asked for on top of `batch` (else a millisecond holding more
//--- than `batch` ticks would stall the stream).
int AitsTicksToCopy(const AitsTickCursor &c, const int batch)
  {
   return c.skip + batch;
  }

//--- The index of the first tick of a CopyTicks(from = c.from_msc) result not sent yet; n when
//--- there is none.
int AitsFirstUnsent(const AitsTickCursor &c, const MqlTick &ticks[], const int n)
  {
   int first = 0;
   while(first < n && first < c.skip && ticks[first].time_msc == c.from_msc)
      first++;
   return first;
  }

//--- After ticks[0, n) (a CopyTicks(from = c.from_msc) result, n > 0) were all sent: the
//--- cursor moves to the last tick's millisecond, counting the ticks of it that were sent
//--- (the result starts at from_msc, so it holds every one of them).
void AitsAdvance(AitsTickCursor &c, const MqlTick &ticks[], const int n)
  {
   const long last = ticks[n - 1].time_msc;
   int same = 0;
   for(int k = n - 1; k >= 0 && ticks[k].time_msc == last; k--)
      same++;
   c.from_msc = last;
   c.skip = same;
  }

//--- The delay before reconnect attempt `attempt` (0 for the first after a loss): min_ms
//--- doubling per attempt up to max_ms, of which the upper half is random (random01 in [0, 1]),
//--- so that many terminals do not reconnect in step.
double AitsBackoffMs(const int attempt, const double min_ms, const double max_ms, const double random01)
  {
   double delay = min_ms;
   for(int i = 0; i < attempt && delay < max_ms; i++)
      delay *= 2;
   if(delay > max_ms)
      delay = max_ms;
   return delay / 2 + (delay / 2) * random01;
  }
