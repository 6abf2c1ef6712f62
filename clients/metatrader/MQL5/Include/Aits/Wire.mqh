//+------------------------------------------------------------------+
//| Wire.mqh: the AITS protocol's byte encoding for the Expert       |
//| Advisor (docs/metatrader.md, "Protocol").                        |
//+------------------------------------------------------------------+
// Hand-written helpers that the generated Protocol.mqh calls: a byte writer and a byte reader
// on uchar arrays (little-endian integers, IEEE 754 doubles, bools as one byte, strings as a
// u16 byte count and UTF-8, arrays as a u32 count), the frame header (u32 length, 20-byte
// envelope) and a frame splitter with a size cap. They mirror src/aits/mt5/wire.h and frame.h;
// tests/mt5/mql5_cross_check.py compiles this file and Protocol.mqh as C++ (through a small
// shim) and checks that they write and read the same bytes as the C++ codecs.
//
// Bytes are composed with shifts, never by copying memory, so the result does not depend on
// the host's byte order; a double's bits are taken through a union (MQL5 reference, "Union
// (union)": its own example overlays a long and a double).
#define AITS_LENGTH_BYTES 4
#define AITS_ENVELOPE_BYTES 20
#define AITS_HEADER_BYTES 24
// The largest frame length (envelope and fields) accepted by default, as kDefaultMaxFrame in
// src/aits/mt5/frame.h; AITS_MAX_FRAME_CAP is the most a configuration may raise it to.
#define AITS_DEFAULT_MAX_FRAME 1048576
#define AITS_MAX_FRAME_CAP 16777216
#define AITS_MAX_STRING_BYTES 65535

// The `error` message's codes: ErrorCode in src/aits/mt5/mql.h (tests/mt5/check_ea.py checks
// that these are its numbers). Fatal ones are followed by the close.
#define AITS_ERR_NONE 0
#define AITS_ERR_MALFORMED_FRAME 1
#define AITS_ERR_FRAME_TOO_LARGE 2
#define AITS_ERR_BAD_VERSION 3
#define AITS_ERR_BAD_TOKEN 4
#define AITS_ERR_UNKNOWN_MESSAGE 5
#define AITS_ERR_UNEXPECTED_MESSAGE 6
#define AITS_ERR_BAD_REQUEST 7
#define AITS_ERR_UNKNOWN_SYMBOL 8
#define AITS_ERR_BUSY 9
#define AITS_ERR_TIMEOUT 10
#define AITS_ERR_INTERNAL 11
#define AITS_ERR_HEARTBEAT_LOST 12

bool AitsIsFatalError(const uint code)
  {
   return code == AITS_ERR_MALFORMED_FRAME || code == AITS_ERR_FRAME_TOO_LARGE ||
          code == AITS_ERR_BAD_VERSION || code == AITS_ERR_BAD_TOKEN ||
          code == AITS_ERR_HEARTBEAT_LOST;
  }

//--- UTF-8 bytes of `text` into `out`; returns their count. StringToCharArray writes the
//--- terminating zero as well (MQL5 reference, StringToCharArray), which is not sent.
int AitsUtf8(const string text, uchar &out[])
  {
   const int n = StringToCharArray(text, out, 0, WHOLE_ARRAY, CP_UTF8);
   if(n <= 0)
      return 0;
   return out[n - 1] == 0 ? n - 1 : n;
  }

union AitsF64Bits
  {
   double            d;
   ulong             u;
  };

//--- Appends encoded fields to a growing byte array. m_data may hold more than m_size bytes
//--- (reserved room); only the first m_size are the output.
class AitsWriter
  {
public:
   uchar             m_data[];
   int               m_size;

                     AitsWriter(void) { m_size = 0; }
   void              Clear(void) { m_size = 0; }
   int               Size(void) const { return m_size; }

   void              Reserve(const int n)
     {
      const int need = m_size + n;
      const int have = ArraySize(m_data);
      if(need <= have)
         return;
      int grow = have * 2;
      if(grow < need)
         grow = need;
      if(grow < 256)
         grow = 256;
      ArrayResize(m_data, grow);
     }
   void              U8(const uint v) { Reserve(1); m_data[m_size] = (uchar)(v & 0xFF); m_size += 1; }
   void              U16(const uint v) { Reserve(2); Put(v, 2); }
   void              U32(const uint v) { Reserve(4); Put(v, 4); }
   void              U64(const ulong v) { Reserve(8); Put(v, 8); }
   void              I32(const int v) { U32((uint)v); }
   void              I64(const long v) { U64((ulong)v); }
   void              F64(const double v)
     {
      AitsF64Bits bits;
      bits.d = v;
      U64(bits.u);
     }
   void              Bool(const bool v) { U8(v ? 1 : 0); }
   // UTF-8 of `v`, cut at 65535 bytes as WireWriter::Str does (the callers' strings are short:
   // symbols, comments of at most 31 characters, log texts).
   void              Str(const string v)
     {
      uchar bytes[];
      int n = AitsUtf8(v, bytes);
      if(n > AITS_MAX_STRING_BYTES)
         n = AITS_MAX_STRING_BYTES;
      U16((uint)n);
      Reserve(n);
      for(int i = 0; i < n; i++)
         m_data[m_size + i] = bytes[i];
      m_size += n;
     }
   void              Count(const int n) { U32((uint)n); }
   // Writes `v` over `bytes` bytes at `at` (already written), for the frame header.
   void              PatchU64(const int at, const ulong v, const int bytes)
     {
      for(int i = 0; i < bytes; i++)
         m_data[at + i] = (uchar)((v >> (8 * i)) & 0xFF);
     }

private:
   void              Put(const ulong v, const int bytes)
     {
      for(int i = 0; i < bytes; i++)
         m_data[m_size + i] = (uchar)((v >> (8 * i)) & 0xFF);
      m_size += bytes;
     }
  };

//--- Reads fields from its own copy of one frame's payload. The first failure is kept, naming
//--- the field and the byte, and every read after it fails at once, as WireReader does.
class AitsReader
  {
public:
   uchar             m_data[];
   int               m_pos;
   int               m_end;
   string            m_error;

                     AitsReader(void) { m_pos = 0; m_end = 0; m_error = ""; }
   void              Init(const uchar &src[], const int start, const int count)
     {
      ArrayResize(m_data, count);
      if(count > 0)
         ArrayCopy(m_data, src, 0, start, count);
      m_pos = 0;
      m_end = count;
      m_error = "";
     }
   bool              Ok(void) const { return m_error == ""; }
   int               Remaining(void) const { return m_end - m_pos; }
   // True when every read succeeded and the payload is used up; else m_error says why.
   bool              Finish(const string what)
     {
      if(m_error != "")
        {
         m_error = what + ": " + m_error;
         return false;
        }
      if(m_pos != m_end)
        {
         m_error = what + ": " + IntegerToString(m_end - m_pos) + " bytes left over after the last field";
         return false;
        }
      return true;
     }

   bool              U8(const string field, uchar &v)
     {
      ulong x = 0;
      if(!Get(field, 1, x))
         return false;
      v = (uchar)x;
      return true;
     }
   bool              U16(const string field, ushort &v)
     {
      ulong x = 0;
      if(!Get(field, 2, x))
         return false;
      v = (ushort)x;
      return true;
     }
   bool              U32(const string field, uint &v)
     {
      ulong x = 0;
      if(!Get(field, 4, x))
         return false;
      v = (uint)x;
      return true;
     }
   bool              U64(const string field, ulong &v) { return Get(field, 8, v); }
   bool              I32(const string field, int &v)
     {
      ulong x = 0;
      if(!Get(field, 4, x))
         return false;
      v = (int)(uint)x;
      return true;
     }
   bool              I64(const string field, long &v)
     {
      ulong x = 0;
      if(!Get(field, 8, x))
         return false;
      v = (long)x;
      return true;
     }
   // A NaN or infinite price is not a price (MathIsValidNumber): refused, as in WireReader.
   bool              F64(const string field, double &v)
     {
      ulong x = 0;
      const int at = m_pos;
      if(!Get(field, 8, x))
         return false;
      AitsF64Bits bits;
      bits.u = x;
      if(!MathIsValidNumber(bits.d))
        {
         m_pos = at;
         return Fail(field, "not a finite number");
        }
      v = bits.d;
      return true;
     }
   bool              Bool(const string field, bool &v)
     {
      ulong x = 0;
      const int at = m_pos;
      if(!Get(field, 1, x))
         return false;
      if(x > 1)
        {
         m_pos = at;
         return Fail(field, "bool byte " + IntegerToString((long)x) + " is neither 0 nor 1");
        }
      v = (x == 1);
      return true;
     }
   bool              Str(const string field, string &v)
     {
      ulong n = 0;
      if(!Get(field, 2, n))
         return false;
      if((ulong)(m_end - m_pos) < n)
         return Truncated(field, (int)n);
      v = "";
      // CharArrayToString: the bytes are UTF-8 (CP_UTF8); a count of 0 would mean "all".
      if(n > 0)
         v = CharArrayToString(m_data, m_pos, (int)n, CP_UTF8);
      m_pos += (int)n;
      return true;
     }
   // Reads an array's u32 count; fails before anything is allocated when the bytes left cannot
   // hold `count` items of at least `min_item_size` bytes (a hostile count costs nothing).
   bool              Count(const string field, const int min_item_size, int &count)
     {
      uint n = 0;
      if(!U32(field, n))
         return false;
      if(min_item_size > 0 && (ulong)n > (ulong)(m_end - m_pos) / (ulong)min_item_size)
         return Fail(field, "count " + IntegerToString((long)n) + " exceeds the bytes left");
      count = (int)n;
      return true;
     }
   // Prefixes the error of an array's item with the array and the index.
   bool              ItemFailed(const string field, const int index)
     {
      m_error = field + "[" + IntegerToString(index) + "]: " + m_error;
      return false;
     }
   bool              Fail(const string field, const string why)
     {
      if(m_error == "")
         m_error = field + " at byte " + IntegerToString(m_pos) + ": " + why;
      return false;
     }

private:
   bool              Get(const string field, const int bytes, ulong &v)
     {
      if(m_error != "")
         return false;
      if(m_end - m_pos < bytes)
         return Truncated(field, bytes);
      ulong x = 0;
      for(int i = 0; i < bytes; i++)
         x |= ((ulong)m_data[m_pos + i]) << (8 * i);
      m_pos += bytes;
      v = x;
      return true;
     }
   bool              Truncated(const string field, const int needed)
     {
      return Fail(field, "truncated (needs " + IntegerToString(needed) + " bytes, " +
                  IntegerToString(m_end - m_pos) + " left)");
     }
  };

//--- The magic number of a client order id (the lead's convention, docs/metatrader.md):
//--- 64-bit FNV-1a of its UTF-8 bytes (aits/core/hash.h) with the top bit cleared, so that it
//--- fits MT5's signed view of magic numbers.
ulong AitsMagicOf(const string client_order_id)
  {
   uchar bytes[];
   const int n = AitsUtf8(client_order_id, bytes);
   ulong hash = 0xcbf29ce484222325;  // 14695981039346656037
   for(int i = 0; i < n; i++)
     {
      hash ^= (ulong)bytes[i];
      hash *= 0x100000001b3;  // 1099511628211
     }
   return hash & 0x7FFFFFFFFFFFFFFF;
  }

struct AitsEnvelope
  {
   ushort            version;
   ushort            type;
   ulong             seq;
   ulong             request_id;
  };

//--- Starts a frame: reserves the length and the envelope; returns where the frame starts.
int AitsFrameBegin(AitsWriter &w)
  {
   const int start = w.m_size;
   for(int i = 0; i < AITS_HEADER_BYTES; i++)
      w.U8(0);
   return start;
  }

//--- Ends the frame begun at `start`: writes its length and envelope. False (and the frame
//--- taken off the writer) when it is longer than `max_frame`: the caller splits what it sends.
bool AitsFrameEnd(AitsWriter &w, const int start, const uint version, const uint type,
                  const ulong seq, const ulong request_id, const uint max_frame)
  {
   const int length = w.m_size - start - AITS_LENGTH_BYTES;
   if((uint)length > max_frame)
     {
      w.m_size = start;
      return false;
     }
   w.PatchU64(start, (ulong)length, 4);
   w.PatchU64(start + 4, (ulong)version, 2);
   w.PatchU64(start + 6, (ulong)type, 2);
   w.PatchU64(start + 8, seq, 8);
   w.PatchU64(start + 16, request_id, 8);
   return true;
  }

//--- Splits the byte stream from the gateway into frames, holding at most one capped frame. A
//--- length below the envelope or above the cap breaks the stream for good (it cannot be
//--- resynchronised): Next returns false and Broken() is true, with m_error saying why.
class AitsFrameDecoder
  {
public:
   uchar             m_buf[];
   int               m_begin;
   int               m_end;
   uint              m_max_frame;
   string            m_error;
   bool              m_too_large;

                     AitsFrameDecoder(void) { m_max_frame = AITS_DEFAULT_MAX_FRAME; Reset(); }
   void              Reset(void)
     {
      m_begin = 0;
      m_end = 0;
      m_error = "";
      m_too_large = false;
     }
   void              SetMaxFrame(const uint max_frame) { m_max_frame = max_frame; }
   bool              Broken(void) const { return m_error != ""; }
   int               Buffered(void) const { return m_end - m_begin; }

   void              Append(const uchar &src[], const int n)
     {
      if(n <= 0)
         return;
      // Frames handed out were copied into their reader: the unread bytes may move now.
      if(m_begin > 0)
        {
         const int held = m_end - m_begin;
         for(int i = 0; i < held; i++)
            m_buf[i] = m_buf[m_begin + i];
         m_begin = 0;
         m_end = held;
        }
      if(ArraySize(m_buf) < m_end + n)
         ArrayResize(m_buf, m_end + n);
      ArrayCopy(m_buf, src, m_end, 0, n);
      m_end += n;
     }

   // The next whole frame's envelope, with its payload copied into `payload`; false when more
   // bytes are needed or the stream is broken.
   bool              Next(AitsEnvelope &env, AitsReader &payload)
     {
      if(m_error != "")
         return false;
      if(m_end - m_begin < AITS_LENGTH_BYTES)
         return false;
      const uint length = (uint)Read(m_begin, 4);
      if(length < AITS_ENVELOPE_BYTES)
        {
         m_error = "frame length " + IntegerToString(length) + " is below the " +
                   IntegerToString(AITS_ENVELOPE_BYTES) + "-byte envelope";
         return false;
        }
      if(length > m_max_frame)
        {
         m_too_large = true;
         m_error = "frame length " + IntegerToString(length) + " exceeds the cap of " +
                   IntegerToString(m_max_frame) + " bytes";
         return false;
        }
      if((uint)(m_end - m_begin) < AITS_LENGTH_BYTES + length)
         return false;
      env.version = (ushort)Read(m_begin + 4, 2);
      env.type = (ushort)Read(m_begin + 6, 2);
      env.seq = Read(m_begin + 8, 8);
      env.request_id = Read(m_begin + 16, 8);
      payload.Init(m_buf, m_begin + AITS_HEADER_BYTES, (int)length - AITS_ENVELOPE_BYTES);
      m_begin += AITS_LENGTH_BYTES + (int)length;
      return true;
     }

private:
   ulong             Read(const int at, const int bytes)
     {
      ulong x = 0;
      for(int i = 0; i < bytes; i++)
         x |= ((ulong)m_buf[at + i]) << (8 * i);
      return x;
     }
  };
