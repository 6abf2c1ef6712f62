//+------------------------------------------------------------------+
//| AitsBridge.mq5: the AITS Expert Advisor.                         |
//| Connects out to the AITS gateway and serves it this terminal's   |
//| market data, account and trading (docs/metatrader.md).           |
//+------------------------------------------------------------------+
// The EA is a client: MQL5 sockets cannot listen (MQL5 reference, "Network Functions"), so it
// connects to the gateway, says hello, and after the welcome answers every request with exactly
// one reply carrying the request's id (proto/mt5/protocol.schema). Everything runs from OnTimer
// (EventSetMillisecondTimer): reads never block (SocketIsReadable before SocketRead, or
// SocketTlsReadAvailable), subscribed ticks are copied with CopyTicks from the last time sent
// (OnTick only fires for the chart's symbol), a heartbeat goes out when nothing else did, and a
// link silent for dead_after_ms is closed and retried with jittered exponential back-off.
//
// MetaEditor does not run in the project's CI: tests/mt5/check_ea.py checks that this file
// handles every message the gateway may send and calls only MQL5 functions reviewed against the
// reference (tests/mt5/mql5_functions.txt). Keep it small.
#property copyright "AITS"
#property link      "docs/metatrader.md"
#property version   "1.00"
#property description "AITS bridge: connects out to the AITS gateway (TCP, optional TLS)."
#property description "Add the gateway's host to Tools > Options > Expert Advisors >"
#property description "'Allow WebRequest for listed URL' and allow algo trading."

#include <Aits/Protocol.mqh>
#include <Aits/Stream.mqh>

#define AITS_EA_VERSION "1.0.0"
// MqlTradeRequest.comment holds at most 31 characters (MQL5 reference, MqlTradeRequest).
#define AITS_MAX_COMMENT 31
// Client order ids remembered in memory; older ones are still found in the history.
#define AITS_SENT_IDS 20000

#define LINK_DOWN 0
#define LINK_HELLO_SENT 1
#define LINK_READY 2

input string InpHost = "127.0.0.1";        // Gateway host (must be in the allowed-URL list)
input uint   InpPort = 5757;               // Gateway port
input string InpToken = "";                // Shared secret (docs/metatrader.md, "Authentication")
input bool   InpTls = false;               // TLS (the gateway must speak TLS too)
input string InpSymbols = "";              // Symbols the gateway may use, comma-separated (empty: any)
input int    InpTimerMs = 10;              // Timer period, ms
input int    InpConnectTimeoutMs = 2000;   // Connect timeout, ms
input int    InpBackoffMinMs = 500;        // First reconnect delay, ms
input int    InpBackoffMaxMs = 30000;      // Longest reconnect delay, ms
input uint   InpMaxFrame = 1048576;        // Frame size cap, bytes (both directions)
input int    InpMaxTicksPerPoll = 20000;   // Ticks copied per symbol per timer event
input int    InpTradeTimeoutMs = 30000;    // Answer 10012 TIMEOUT when the server says nothing
input int    InpDuplicateLookbackDays = 90;// History searched for a client order id sent before

//--- The link.
int              g_socket = INVALID_HANDLE;
int              g_state = LINK_DOWN;
ulong            g_seq_out = 0;
ulong            g_seq_in = 0;
ulong            g_last_recv = 0;  // GetTickCount64() of the last frame received
ulong            g_last_send = 0;
uint             g_heartbeat_ms = 1000;
uint             g_dead_after_ms = 3000;
int              g_attempt = 0;
ulong            g_next_attempt = 0;
AitsFrameDecoder g_decoder;
AitsWriter       g_out;            // frames not yet taken by the socket

//--- Subscriptions: per symbol, its place in the tick stream (Stream.mqh).
string           g_sub_symbol[];
AitsTickCursor   g_sub_cursor[];

//--- Trade requests sent with OrderSendAsync whose result has not come yet.
uint             g_pend_mt5_id[];
ulong            g_pend_request[];
string           g_pend_coid[];
ulong            g_pend_since[];

//--- Client order ids sent, a ring of AITS_SENT_IDS.
string           g_sent_ids[];
int              g_sent_next = 0;

string           g_allowed[];
bool             g_last_trade_allowed = false;
bool             g_last_expert_allowed = false;
bool             g_last_connected = false;

const ENUM_TIMEFRAMES kTimeframes[] = {
   PERIOD_M1, PERIOD_M2, PERIOD_M3, PERIOD_M4, PERIOD_M5, PERIOD_M6, PERIOD_M10, PERIOD_M12,
   PERIOD_M15, PERIOD_M20, PERIOD_M30, PERIOD_H1, PERIOD_H2, PERIOD_H3, PERIOD_H4, PERIOD_H6,
   PERIOD_H8, PERIOD_H12, PERIOD_D1, PERIOD_W1, PERIOD_MN1};

//+------------------------------------------------------------------+
//| Events                                                           |
//+------------------------------------------------------------------+
int OnInit()
  {
   if(MQLInfoInteger(MQL_TESTER))
     {
      Print("AitsBridge: not for the Strategy Tester (it trades through the gateway)");
      return INIT_FAILED;
     }
   if(InpPort == 0 || InpPort > 65535 || InpTimerMs < 1 || InpTimerMs > 1000 ||
      InpBackoffMinMs < 1 || InpBackoffMaxMs < InpBackoffMinMs || InpConnectTimeoutMs < 1 ||
      InpMaxFrame < 65536 || InpMaxFrame > AITS_MAX_FRAME_CAP || InpMaxTicksPerPoll < 1 ||
      InpTradeTimeoutMs < 1000 || InpDuplicateLookbackDays < 1)
     {
      Print("AitsBridge: an input is out of range (port 1..65535, timer 1..1000 ms, back-off min <= max, ",
            "frame cap 65536..", AITS_MAX_FRAME_CAP, ", trade timeout >= 1000 ms)");
      return INIT_PARAMETERS_INCORRECT;
     }
   ArrayResize(g_allowed, 0);
   string parts[];
   const int n = StringSplit(InpSymbols, ',', parts);
   for(int i = 0; i < n; i++)
     {
      StringTrimLeft(parts[i]);
      StringTrimRight(parts[i]);
      if(parts[i] == "")
         continue;
      const int k = ArraySize(g_allowed);
      ArrayResize(g_allowed, k + 1);
      g_allowed[k] = parts[i];
      if(!SymbolSelect(parts[i], true))
         Print("AitsBridge: symbol ", parts[i], " cannot be selected (error ", GetLastError(), ")");
     }
   ArrayResize(g_sent_ids, AITS_SENT_IDS);
   for(int i = 0; i < AITS_SENT_IDS; i++)
      g_sent_ids[i] = "";
   g_decoder.SetMaxFrame(InpMaxFrame);
   MathSrand(GetTickCount());
   g_next_attempt = 0;
   if(!EventSetMillisecondTimer(InpTimerMs))
     {
      Print("AitsBridge: EventSetMillisecondTimer(", InpTimerMs, ") failed (error ", GetLastError(), ")");
      return INIT_FAILED;
     }
   return INIT_SUCCEEDED;
  }

void OnDeinit(const int reason)
  {
   EventKillTimer();
   if(g_socket != INVALID_HANDLE)
     {
      AitsBye bye;
      ZeroMemory(bye);
      bye.reason = "EA stopped (deinit reason " + IntegerToString(reason) + ")";
      if(AitsAppendBye(g_out, bye, g_seq_out + 1, 0, InpMaxFrame))
        {
         g_seq_out++;
         FlushOnce();
        }
      SocketClose(g_socket);
      g_socket = INVALID_HANDLE;
     }
   g_state = LINK_DOWN;
  }

void OnTimer()
  {
   if(g_state == LINK_DOWN)
     {
      if(GetTickCount64() >= g_next_attempt)
         Connect();
      return;
     }
   if(!SocketIsConnected(g_socket))
     {
      CloseLink("the connection was closed (error " + IntegerToString(GetLastError()) + ")", false);
      return;
     }
   if(!Flush() || !ReadFrames())
      return;
   if(g_state == LINK_READY)
     {
      StreamTicks();
      ExpirePendingTrades();
      PushAccountOnPermissionChange();
     }
   if(g_state == LINK_DOWN)
      return;
   const ulong now = GetTickCount64();
   if(g_state == LINK_READY && now - g_last_send >= g_heartbeat_ms)
      SendHeartbeat();
   if(g_state != LINK_DOWN && now - g_last_recv > g_dead_after_ms)
      Fatal(AITS_ERR_HEARTBEAT_LOST, "nothing received for " + IntegerToString((long)(now - g_last_recv)) +
            " ms (dead after " + IntegerToString(g_dead_after_ms) + ")", 0);
  }

// The chart symbol's ticks go out at once; every other symbol's on the next timer event.
void OnTick()
  {
   if(g_state == LINK_READY)
      StreamTicks();
  }

void OnTradeTransaction(const MqlTradeTransaction &trans, const MqlTradeRequest &request,
                        const MqlTradeResult &result)
  {
   if(g_state != LINK_READY)
      return;
   AitsTransaction m;
   ZeroMemory(m);
   m.type = (uint)trans.type;
   m.deal = trans.deal;
   m.order = trans.order;
   m.position = trans.position;
   m.position_by = trans.position_by;
   m.symbol = trans.symbol;
   m.order_type = (uint)trans.order_type;
   m.order_state = (uint)trans.order_state;
   m.deal_type = (uint)trans.deal_type;
   m.time_type = (uint)trans.time_type;
   m.time_expiration = (long)trans.time_expiration;
   m.price = Fin(trans.price);
   m.price_trigger = Fin(trans.price_trigger);
   m.price_sl = Fin(trans.price_sl);
   m.price_tp = Fin(trans.price_tp);
   m.volume = Fin(trans.volume);
   m.time_msc = (long)TimeTradeServer() * 1000;
   // MqlTradeTransaction carries no magic, comment, entry or money: look them up (MQL5
   // reference, "Structure of a Trade Transaction"): the deal in the history, else the order
   // among the working ones, else in the history.
   if(trans.type == TRADE_TRANSACTION_REQUEST)
     {
      m.retcode = result.retcode;
      m.mt5_request_id = result.request_id;
      m.magic = request.magic;
      m.comment = request.comment;
     }
   else if(trans.deal != 0 && HistoryDealSelect(trans.deal))
     {
      m.deal_entry = (uint)HistoryDealGetInteger(trans.deal, DEAL_ENTRY);
      m.deal_reason = (uint)HistoryDealGetInteger(trans.deal, DEAL_REASON);
      m.deal_commission = Fin(HistoryDealGetDouble(trans.deal, DEAL_COMMISSION));
      m.deal_swap = Fin(HistoryDealGetDouble(trans.deal, DEAL_SWAP));
      m.deal_profit = Fin(HistoryDealGetDouble(trans.deal, DEAL_PROFIT));
      m.magic = (ulong)HistoryDealGetInteger(trans.deal, DEAL_MAGIC);
      m.comment = HistoryDealGetString(trans.deal, DEAL_COMMENT);
      m.time_msc = HistoryDealGetInteger(trans.deal, DEAL_TIME_MSC);
     }
   else if(trans.order != 0 && OrderSelect(trans.order))
     {
      m.magic = (ulong)OrderGetInteger(ORDER_MAGIC);
      m.comment = OrderGetString(ORDER_COMMENT);
      m.time_msc = OrderGetInteger(ORDER_TIME_SETUP_MSC);
     }
   else if(trans.order != 0 && HistoryOrderSelect(trans.order))
     {
      m.magic = (ulong)HistoryOrderGetInteger(trans.order, ORDER_MAGIC);
      m.comment = HistoryOrderGetString(trans.order, ORDER_COMMENT);
      const long done = HistoryOrderGetInteger(trans.order, ORDER_TIME_DONE_MSC);
      m.time_msc = done != 0 ? done : HistoryOrderGetInteger(trans.order, ORDER_TIME_SETUP_MSC);
     }
   else if(trans.position != 0 && PositionSelectByTicket(trans.position))
     {
      m.magic = (ulong)PositionGetInteger(POSITION_MAGIC);
      m.comment = PositionGetString(POSITION_COMMENT);
      m.time_msc = PositionGetInteger(POSITION_TIME_UPDATE_MSC);
     }
   if(!Sent(AitsAppendTransaction(g_out, m, g_seq_out + 1, 0, InpMaxFrame), "transaction"))
      return;
   // An OrderSendAsync request's outcome: its one trade_result (after the pushes it caused).
   if(trans.type == TRADE_TRANSACTION_REQUEST)
     {
      const int p = FindPending(result.request_id);
      if(p >= 0)
        {
         const ulong request_id = g_pend_request[p];
         const string coid = g_pend_coid[p];
         RemovePending(p);
         ForgetIdIfRejected(coid, result);
         ReplyTradeResult(request_id, coid, result);
        }
     }
  }

//+------------------------------------------------------------------+
//| The link                                                         |
//+------------------------------------------------------------------+
void Connect()
  {
   ResetLastError();
   g_socket = SocketCreate();
   if(g_socket == INVALID_HANDLE)
     {
      Print("AitsBridge: SocketCreate failed (error ", GetLastError(), ")");
      ScheduleReconnect();
      return;
     }
   // Sends never wait long: a gateway that stops reading is a dead link, not a frozen terminal.
   SocketTimeouts(g_socket, 1000, 1000);
   if(!SocketConnect(g_socket, InpHost, InpPort, InpConnectTimeoutMs))
     {
      Print("AitsBridge: cannot connect to ", InpHost, ":", InpPort, " (error ", GetLastError(),
            "); is the host in Tools > Options > Expert Advisors > 'Allow WebRequest for listed URL'?");
      SocketClose(g_socket);
      g_socket = INVALID_HANDLE;
      ScheduleReconnect();
      return;
     }
   if(InpTls && !SocketTlsHandshake(g_socket, InpHost))
     {
      Print("AitsBridge: TLS handshake with ", InpHost, " failed (error ", GetLastError(), ")");
      SocketClose(g_socket);
      g_socket = INVALID_HANDLE;
      ScheduleReconnect();
      return;
     }
   g_decoder.Reset();
   g_out.Clear();
   g_seq_out = 0;
   g_seq_in = 0;
   g_heartbeat_ms = 1000;
   g_dead_after_ms = 3000;
   g_last_recv = GetTickCount64();
   g_state = LINK_HELLO_SENT;
   AitsHello hello;
   ZeroMemory(hello);
   hello.protocol_version = AITS_PROTOCOL_VERSION;
   hello.token = InpToken;
   hello.login = AccountInfoInteger(ACCOUNT_LOGIN);
   hello.server = AccountInfoString(ACCOUNT_SERVER);
   hello.company = AccountInfoString(ACCOUNT_COMPANY);
   hello.currency = AccountInfoString(ACCOUNT_CURRENCY);
   hello.leverage = (uint)AccountInfoInteger(ACCOUNT_LEVERAGE);
   hello.margin_mode = (uint)AccountInfoInteger(ACCOUNT_MARGIN_MODE);
   hello.terminal_build = (uint)TerminalInfoInteger(TERMINAL_BUILD);
   hello.ea_version = AITS_EA_VERSION;
   hello.trade_allowed = TerminalInfoInteger(TERMINAL_TRADE_ALLOWED) != 0 &&
                         MQLInfoInteger(MQL_TRADE_ALLOWED) != 0;
   hello.server_time_msc = (long)TimeTradeServer() * 1000;
   Print("AitsBridge: connected to ", InpHost, ":", InpPort, InpTls ? " (TLS)" : "", ", saying hello");
   Sent(AitsAppendHello(g_out, hello, g_seq_out + 1, 0, InpMaxFrame), "hello");
  }

// Jittered exponential back-off (AitsBackoffMs); a welcome resets the attempts.
void ScheduleReconnect()
  {
   const double delay = AitsBackoffMs(g_attempt, InpBackoffMinMs, InpBackoffMaxMs, MathRand() / 32767.0);
   g_attempt++;
   g_next_attempt = GetTickCount64() + (ulong)delay;
   Print("AitsBridge: next connection attempt in ", (int)delay, " ms");
  }

void CloseLink(const string why, const bool say_bye)
  {
   if(g_socket != INVALID_HANDLE)
     {
      if(say_bye)
        {
         AitsBye bye;
         ZeroMemory(bye);
         bye.reason = why;
         if(AitsAppendBye(g_out, bye, g_seq_out + 1, 0, InpMaxFrame))
           {
            g_seq_out++;
            FlushOnce();
           }
        }
      SocketClose(g_socket);
     }
   Print("AitsBridge: link closed: ", why);
   g_socket = INVALID_HANDLE;
   g_state = LINK_DOWN;
   g_out.Clear();
   // The gateway subscribes again with from_msc after it reconnects, and resolves trade
   // requests left without a result by asking for orders and deals (never by resending).
   ArrayResize(g_sub_symbol, 0);
   ArrayResize(g_sub_cursor, 0);
   ArrayResize(g_pend_mt5_id, 0);
   ArrayResize(g_pend_request, 0);
   ArrayResize(g_pend_coid, 0);
   ArrayResize(g_pend_since, 0);
   ScheduleReconnect();
  }

// An error the link cannot survive (malformed frame, bad version, silence): say why, then close.
bool Fatal(const uint code, const string why, const ulong request_id)
  {
   AitsError e;
   ZeroMemory(e);
   e.code = code;
   e.message = why;
   if(g_socket != INVALID_HANDLE && AitsAppendError(g_out, e, g_seq_out + 1, request_id, InpMaxFrame))
     {
      g_seq_out++;
      FlushOnce();
     }
   CloseLink(why, false);
   return false;
  }

// One send attempt of what is queued: SocketSend may take part of it (MQL5 reference,
// SocketSend returns the bytes written); the rest stays queued for the next timer event.
int FlushOnce()
  {
   if(g_out.m_size == 0 || g_socket == INVALID_HANDLE)
      return 0;
   const int n = InpTls ? SocketTlsSend(g_socket, g_out.m_data, g_out.m_size)
                        : SocketSend(g_socket, g_out.m_data, g_out.m_size);
   if(n <= 0)
      return n;
   const int rest = g_out.m_size - n;
   for(int i = 0; i < rest; i++)
      g_out.m_data[i] = g_out.m_data[n + i];
   g_out.m_size = rest;
   return n;
  }

bool Flush()
  {
   if(FlushOnce() < 0)
     {
      CloseLink("send failed (error " + IntegerToString(GetLastError()) + ")", false);
      return false;
     }
   // A gateway that reads nothing for long: the queue is capped like a frame stream.
   if(g_out.m_size > 8 * (int)InpMaxFrame)
     {
      CloseLink("the gateway does not read (" + IntegerToString(g_out.m_size) + " bytes queued)", false);
      return false;
     }
   return true;
  }

// After an AitsAppend<Message>: counts the frame and sends. A frame above the cap is not sent
// (the callers split data below it, so this is a bug): logged, and the link stays up.
bool Sent(const bool appended, const string what)
  {
   if(!appended)
     {
      Print("AitsBridge: a ", what, " frame would exceed the cap of ", InpMaxFrame, " bytes: not sent");
      return false;
     }
   g_seq_out++;
   g_last_send = GetTickCount64();
   return Flush();
  }

void SendHeartbeat()
  {
   AitsHeartbeat m;
   ZeroMemory(m);
   m.time_msc = (long)TimeTradeServer() * 1000;
   Sent(AitsAppendHeartbeat(g_out, m, g_seq_out + 1, 0, InpMaxFrame), "heartbeat");
  }

bool SendError(const uint code, const string why, const ulong request_id)
  {
   AitsError e;
   ZeroMemory(e);
   e.code = code;
   e.message = why;
   return Sent(AitsAppendError(g_out, e, g_seq_out + 1, request_id, InpMaxFrame), "error");
  }

// Reads what the socket holds without waiting. SocketIsReadable may report 1 byte when the
// buffer is empty (MQL5 reference, SocketIsReadable), so SocketRead gets a 1 ms timeout; with
// TLS the raw count says nothing about decrypted bytes, so SocketTlsReadAvailable is used.
bool ReadFrames()
  {
   uchar chunk[];
   for(int round = 0; round < 64 && g_state != LINK_DOWN; round++)
     {
      int got = 0;
      ArrayResize(chunk, 0);  // the read functions size a dynamic array to what they read
      if(InpTls)
         got = SocketTlsReadAvailable(g_socket, chunk, 65536);
      else
        {
         const uint ready = SocketIsReadable(g_socket);
         if(ready == 0)
            break;
         got = SocketRead(g_socket, chunk, ready < 65536 ? ready : 65536, 1);
        }
      if(got < 0)
        {
         if(!SocketIsConnected(g_socket))
           {
            CloseLink("read failed (error " + IntegerToString(GetLastError()) + ")", false);
            return false;
           }
         break;  // the 1 ms timeout: nothing there
        }
      if(got == 0)
         break;
      g_decoder.Append(chunk, got);
      if(!ProcessFrames())
         return false;
     }
   return g_state != LINK_DOWN;
  }

bool ProcessFrames()
  {
   AitsEnvelope env;
   AitsReader r;
   // A handler's false means its reply was not sent; the link may still be up (a reply above
   // the cap), so only the state decides whether to go on.
   while(g_state != LINK_DOWN && g_decoder.Next(env, r))
     {
      g_last_recv = GetTickCount64();
      HandleFrame(env, r);
     }
   if(g_decoder.Broken())
      return Fatal(g_decoder.m_too_large ? AITS_ERR_FRAME_TOO_LARGE : AITS_ERR_MALFORMED_FRAME,
                   g_decoder.m_error, 0);
   return g_state != LINK_DOWN;
  }

bool Malformed(const AitsReader &r, const ulong request_id)
  {
   return Fatal(AITS_ERR_MALFORMED_FRAME, r.m_error, request_id);
  }

//+------------------------------------------------------------------+
//| Dispatch: one case per message the gateway may send              |
//+------------------------------------------------------------------+
bool HandleFrame(const AitsEnvelope &env, AitsReader &r)
  {
   if(env.version != AITS_PROTOCOL_VERSION)
      return Fatal(AITS_ERR_BAD_VERSION, "protocol version " + IntegerToString(env.version) +
                   ", this EA speaks " + IntegerToString(AITS_PROTOCOL_VERSION), env.request_id);
   if(env.seq != g_seq_in + 1)
      return Fatal(AITS_ERR_MALFORMED_FRAME, "sequence number " + IntegerToString((long)env.seq) +
                   " after " + IntegerToString((long)g_seq_in), env.request_id);
   g_seq_in = env.seq;
   if(g_state == LINK_HELLO_SENT && env.type != AITS_MSG_WELCOME && env.type != AITS_MSG_ERROR &&
      env.type != AITS_MSG_BYE && env.type != AITS_MSG_HEARTBEAT)
      return Fatal(AITS_ERR_UNEXPECTED_MESSAGE, AitsMessageName(env.type) + " (type " +
                   IntegerToString(env.type) + ") before the welcome", env.request_id);
   const ulong id = env.request_id;
   switch(env.type)
     {
      case AITS_MSG_WELCOME:
         return OnWelcome(r, id);
      case AITS_MSG_HEARTBEAT:
        {
         AitsHeartbeat m;
         return AitsReadHeartbeat(r, m) ? true : Malformed(r, id);
        }
      case AITS_MSG_ERROR:
         return OnGatewayError(r, id);
      case AITS_MSG_BYE:
        {
         AitsBye m;
         if(!AitsReadBye(r, m))
            return Malformed(r, id);
         CloseLink("the gateway said bye: " + m.reason, false);
         return false;
        }
      case AITS_MSG_SUBSCRIBE:
         return OnSubscribe(r, id);
      case AITS_MSG_UNSUBSCRIBE:
         return OnUnsubscribe(r, id);
      case AITS_MSG_GET_TICK:
         return OnGetTick(r, id);
      case AITS_MSG_GET_BARS:
         return OnGetBars(r, id);
      case AITS_MSG_GET_TICKS:
         return OnGetTicks(r, id);
      case AITS_MSG_GET_ACCOUNT:
         if(!AitsReadGetAccount(r))
            return Malformed(r, id);
         return SendAccount(id);
      case AITS_MSG_GET_POSITIONS:
         if(!AitsReadGetPositions(r))
            return Malformed(r, id);
         return SendPositions(id);
      case AITS_MSG_GET_ORDERS:
         if(!AitsReadGetOrders(r))
            return Malformed(r, id);
         return SendOrders(id);
      case AITS_MSG_GET_HISTORY:
         return OnGetHistory(r, id);
      case AITS_MSG_GET_SYMBOL:
         return OnGetSymbol(r, id);
      case AITS_MSG_PLACE_ORDER:
         return OnPlaceOrder(r, id);
      case AITS_MSG_CLOSE_POSITION:
         return OnClosePosition(r, id);
      case AITS_MSG_MODIFY_POSITION:
         return OnModifyPosition(r, id);
      case AITS_MSG_MODIFY_ORDER:
         return OnModifyOrder(r, id);
      case AITS_MSG_CANCEL_ORDER:
         return OnCancelOrder(r, id);
      case AITS_MSG_CLOSE_BY:
         return OnCloseBy(r, id);
     }
   // A known type that only the EA sends, or a type this EA does not know (a newer gateway):
   // answered, and the link stays up.
   if(AitsIsKnownMessage(env.type))
      return SendError(AITS_ERR_UNEXPECTED_MESSAGE, AitsMessageName(env.type) +
                       " goes from the EA to the gateway", id);
   return SendError(AITS_ERR_UNKNOWN_MESSAGE, "unknown message type " + IntegerToString(env.type), id);
  }

bool OnWelcome(AitsReader &r, const ulong id)
  {
   AitsWelcome m;
   if(!AitsReadWelcome(r, m))
      return Malformed(r, id);
   if(g_state != LINK_HELLO_SENT)
      return SendError(AITS_ERR_UNEXPECTED_MESSAGE, "a second welcome", id);
   if(m.protocol_version != AITS_PROTOCOL_VERSION)
      return Fatal(AITS_ERR_BAD_VERSION, "the gateway speaks protocol " + IntegerToString(m.protocol_version) +
                   ", this EA " + IntegerToString(AITS_PROTOCOL_VERSION), id);
   g_heartbeat_ms = m.heartbeat_ms >= 50 ? m.heartbeat_ms : 1000;
   g_dead_after_ms = m.dead_after_ms >= 2 * g_heartbeat_ms ? m.dead_after_ms : 3 * g_heartbeat_ms;
   g_state = LINK_READY;
   g_attempt = 0;
   g_last_trade_allowed = AccountInfoInteger(ACCOUNT_TRADE_ALLOWED) != 0;
   g_last_expert_allowed = ExpertAllowed();
   g_last_connected = TerminalInfoInteger(TERMINAL_CONNECTED) != 0;
   Print("AitsBridge: welcomed by node ", m.node_id, " (heartbeat ", g_heartbeat_ms, " ms, dead after ",
         g_dead_after_ms, " ms)");
   return true;
  }

bool OnGatewayError(AitsReader &r, const ulong id)
  {
   AitsError m;
   if(!AitsReadError(r, m))
      return Malformed(r, id);
   Print("AitsBridge: the gateway reports error ", m.code, " (request ", id, "): ", m.message);
   if(AitsIsFatalError(m.code))
     {
      CloseLink("the gateway's fatal error " + IntegerToString(m.code) + ": " + m.message, false);
      return false;
     }
   return true;
  }

//+------------------------------------------------------------------+
//| Market data                                                      |
//+------------------------------------------------------------------+
bool Allowed(const string symbol)
  {
   if(symbol == "")
      return false;
   const int n = ArraySize(g_allowed);
   if(n == 0)
      return true;
   for(int i = 0; i < n; i++)
      if(g_allowed[i] == symbol)
         return true;
   return false;
  }

// The symbol usable: allowed by the inputs and in Market Watch (SymbolSelect).
bool Usable(const string symbol)
  {
   return Allowed(symbol) && SymbolSelect(symbol, true);
  }

int FindSubscription(const string symbol)
  {
   for(int i = ArraySize(g_sub_symbol) - 1; i >= 0; i--)
      if(g_sub_symbol[i] == symbol)
         return i;
   return -1;
  }

// Streams from from_msc on (inclusive: ticks of that millisecond are sent again, the receiver
// drops those it has); 0 = from the latest tick, which is not sent.
void Subscribe(const string symbol, const long from_msc)
  {
   int i = FindSubscription(symbol);
   if(i >= 0 && from_msc == 0)
      return;
   if(i < 0)
     {
      i = ArraySize(g_sub_symbol);
      ArrayResize(g_sub_symbol, i + 1);
      ArrayResize(g_sub_cursor, i + 1);
      g_sub_symbol[i] = symbol;
     }
   g_sub_cursor[i].from_msc = from_msc;
   g_sub_cursor[i].skip = 0;
   if(from_msc > 0)
      return;
   // From now: the cursor goes past every tick there is, without sending them.
   MqlTick last;
   if(!SymbolInfoTick(symbol, last) || last.time_msc <= 0)
     {
      g_sub_cursor[i].from_msc = (long)TimeTradeServer() * 1000;
      return;
     }
   g_sub_cursor[i].from_msc = last.time_msc;
   MqlTick ticks[];
   const int n = CopyTicks(symbol, ticks, COPY_TICKS_ALL, (ulong)last.time_msc, (uint)InpMaxTicksPerPoll);
   if(n > 0)
      AitsAdvance(g_sub_cursor[i], ticks, n);
  }

bool OnSubscribe(AitsReader &r, const ulong id)
  {
   AitsSubscribe m;
   if(!AitsReadSubscribe(r, m))
      return Malformed(r, id);
   if(m.from_msc < 0)
      return SendAck(id, AITS_ERR_BAD_REQUEST, "from_msc " + IntegerToString(m.from_msc) + " is negative");
   string refused = "";
   for(int i = 0; i < ArraySize(m.symbols); i++)
     {
      if(Usable(m.symbols[i]))
         Subscribe(m.symbols[i], m.from_msc);
      else
         refused += (refused == "" ? "" : ", ") + m.symbols[i];
     }
   if(refused != "")
      return SendAck(id, AITS_ERR_UNKNOWN_SYMBOL, "not subscribed (unknown or not allowed): " + refused);
   return SendAck(id, AITS_ERR_NONE, "");
  }

bool OnUnsubscribe(AitsReader &r, const ulong id)
  {
   AitsUnsubscribe m;
   if(!AitsReadUnsubscribe(r, m))
      return Malformed(r, id);
   for(int i = 0; i < ArraySize(m.symbols); i++)
     {
      const int k = FindSubscription(m.symbols[i]);
      if(k < 0)
         continue;
      const int last = ArraySize(g_sub_symbol) - 1;
      g_sub_symbol[k] = g_sub_symbol[last];
      g_sub_cursor[k] = g_sub_cursor[last];
      ArrayResize(g_sub_symbol, last);
      ArrayResize(g_sub_cursor, last);
     }
   return SendAck(id, AITS_ERR_NONE, "");
  }

bool SendAck(const ulong id, const uint code, const string message)
  {
   AitsAck m;
   ZeroMemory(m);
   m.code = code;
   m.message = message;
   return Sent(AitsAppendAck(g_out, m, g_seq_out + 1, id, InpMaxFrame), "ack");
  }

// Every subscribed symbol's ticks since the last sent, without gaps or repeats: CopyTicks
// from the cursor, skipping the ticks of its millisecond sent already (Stream.mqh). Recent ticks
// come from the terminal's cache of the latest ones, so this is quick.
void StreamTicks()
  {
   MqlTick ticks[];
   for(int i = 0; i < ArraySize(g_sub_symbol) && g_state == LINK_READY; i++)
     {
      const int n = CopyTicks(g_sub_symbol[i], ticks, COPY_TICKS_ALL, (ulong)g_sub_cursor[i].from_msc,
                              (uint)AitsTicksToCopy(g_sub_cursor[i], InpMaxTicksPerPoll));
      if(n <= 0)
         continue;
      const int first = AitsFirstUnsent(g_sub_cursor[i], ticks, n);
      if(first >= n)
         continue;
      if(!SendTicks(g_sub_symbol[i], ticks, first, n, 0, true))
         return;
      AitsAdvance(g_sub_cursor[i], ticks, n);
     }
  }

// ticks[from, to) as `ticks` frames below the cap, the last with final = true when
// `final_last`; an empty range is one empty final frame (a reply always comes).
bool SendTicks(const string symbol, const MqlTick &ticks[], const int from, const int to,
               const ulong id, const bool final_last)
  {
   uchar name[];
   const int overhead = AITS_ENVELOPE_BYTES + AITS_MIN_SIZE_TICKS + AitsUtf8(symbol, name);
   const int per_frame = ((int)InpMaxFrame - overhead) / AITS_MIN_SIZE_TICK_DATA;
   int i = from;
   do
     {
      const int k = per_frame < to - i ? per_frame : to - i;
      AitsTicks m;
      ZeroMemory(m);
      m.symbol = symbol;
      m.final_ = final_last && i + k >= to;
      ArrayResize(m.ticks, k);
      for(int j = 0; j < k; j++)
        {
         m.ticks[j].time_msc = ticks[i + j].time_msc;
         m.ticks[j].bid = Fin(ticks[i + j].bid);
         m.ticks[j].ask = Fin(ticks[i + j].ask);
         m.ticks[j].last = Fin(ticks[i + j].last);
         m.ticks[j].volume = Fin(ticks[i + j].volume_real);
         m.ticks[j].flags = ticks[i + j].flags;
        }
      if(!Sent(AitsAppendTicks(g_out, m, g_seq_out + 1, id, InpMaxFrame), "ticks"))
         return false;
      i += k;
     }
   while(i < to);
   return true;
  }

bool OnGetTick(AitsReader &r, const ulong id)
  {
   AitsGetTick m;
   if(!AitsReadGetTick(r, m))
      return Malformed(r, id);
   MqlTick tick[1];
   if(!Usable(m.symbol) || !SymbolInfoTick(m.symbol, tick[0]))
      return SendError(AITS_ERR_UNKNOWN_SYMBOL, "no tick for '" + m.symbol + "' (error " +
                       IntegerToString(GetLastError()) + ")", id);
   return SendTicks(m.symbol, tick, 0, 1, id, true);
  }

bool OnGetTicks(AitsReader &r, const ulong id)
  {
   AitsGetTicks m;
   if(!AitsReadGetTicks(r, m))
      return Malformed(r, id);
   if(!Usable(m.symbol))
      return SendError(AITS_ERR_UNKNOWN_SYMBOL, "unknown or not allowed symbol '" + m.symbol + "'", id);
   if(m.from_msc < 0 || m.to_msc < 0 || (m.to_msc != 0 && m.to_msc < m.from_msc))
      return SendError(AITS_ERR_BAD_REQUEST, "bad range " + IntegerToString(m.from_msc) + ".." +
                       IntegerToString(m.to_msc), id);
   MqlTick ticks[];
   // to_msc = 0: up to the history's end (MQL5 reference, CopyTicksRange).
   ResetLastError();
   int n = CopyTicksRange(m.symbol, ticks, COPY_TICKS_ALL, (ulong)m.from_msc, (ulong)m.to_msc);
   if(n < 0)
      return SendError(AITS_ERR_INTERNAL, "CopyTicksRange(" + m.symbol + ") failed (error " +
                       IntegerToString(GetLastError()) + ")", id);
   // The terminal was still synchronising its tick history: it returned only what it had
   // (MQL5 reference, CopyTicksRange). A slice missing ticks must not look complete; the gateway
   // asks again after a timeout error.
   if(GetLastError() == ERR_HISTORY_TIMEOUT)
      return SendError(AITS_ERR_TIMEOUT, "CopyTicksRange(" + m.symbol + ") timed out synchronising "
                       "the tick history; ask again", id);
   if(m.count > 0 && n > (int)m.count)
      n = (int)m.count;
   return SendTicks(m.symbol, ticks, 0, n, id, true);
  }

// ENUM_TIMEFRAMES of a period in seconds (PeriodSeconds of each); false for any other period.
bool TimeframeOf(const uint seconds, ENUM_TIMEFRAMES &tf)
  {
   for(int i = 0; i < ArraySize(kTimeframes); i++)
      if(PeriodSeconds(kTimeframes[i]) == (int)seconds)
        {
         tf = kTimeframes[i];
         return true;
        }
   return false;
  }

bool OnGetBars(AitsReader &r, const ulong id)
  {
   AitsGetBars m;
   if(!AitsReadGetBars(r, m))
      return Malformed(r, id);
   if(!Usable(m.symbol))
      return SendError(AITS_ERR_UNKNOWN_SYMBOL, "unknown or not allowed symbol '" + m.symbol + "'", id);
   ENUM_TIMEFRAMES tf = PERIOD_CURRENT;
   if(!TimeframeOf(m.period_sec, tf))
      return SendError(AITS_ERR_BAD_REQUEST, "no MT5 timeframe of " + IntegerToString(m.period_sec) + " s", id);
   MqlRates rates[];
   int n = 0;
   ResetLastError();
   if(m.from == 0)
     {
      if(m.count == 0)
         return SendError(AITS_ERR_BAD_REQUEST, "get_bars needs a count or a range", id);
      // From the current (still forming) bar back (MQL5 reference, CopyRates): oldest first.
      n = CopyRates(m.symbol, tf, 0, (int)m.count, rates);
     }
   else
     {
      const long to = m.to == 0 ? (long)TimeCurrent() : m.to;
      if(m.from < 0 || to < m.from)
         return SendError(AITS_ERR_BAD_REQUEST, "bad range " + IntegerToString(m.from) + ".." +
                          IntegerToString(to), id);
      n = CopyRates(m.symbol, tf, (datetime)m.from, (datetime)to, rates);
     }
   if(n < 0)
      return SendError(AITS_ERR_INTERNAL, "CopyRates(" + m.symbol + ") failed (error " +
                       IntegerToString(GetLastError()) + ")", id);
   uchar name[];
   const int overhead = AITS_ENVELOPE_BYTES + AITS_MIN_SIZE_BARS + AitsUtf8(m.symbol, name);
   const int per_frame = ((int)InpMaxFrame - overhead) / AITS_MIN_SIZE_BAR_DATA;
   int i = 0;
   do
     {
      const int k = per_frame < n - i ? per_frame : n - i;
      AitsBars out;
      ZeroMemory(out);
      out.symbol = m.symbol;
      out.period_sec = m.period_sec;
      out.final_ = i + k >= n;
      ArrayResize(out.bars, k);
      for(int j = 0; j < k; j++)
        {
         out.bars[j].time = (long)rates[i + j].time;
         out.bars[j].open = Fin(rates[i + j].open);
         out.bars[j].high = Fin(rates[i + j].high);
         out.bars[j].low = Fin(rates[i + j].low);
         out.bars[j].close = Fin(rates[i + j].close);
         out.bars[j].tick_volume = rates[i + j].tick_volume;
         out.bars[j].spread = rates[i + j].spread;
         out.bars[j].real_volume = rates[i + j].real_volume;
        }
      if(!Sent(AitsAppendBars(g_out, out, g_seq_out + 1, id, InpMaxFrame), "bars"))
         return false;
      i += k;
     }
   while(i < n);
   return true;
  }

//+------------------------------------------------------------------+
//| Account, positions, orders, history, symbols                     |
//+------------------------------------------------------------------+
// A double the gateway can read: its reader refuses NaN and infinities.
double Fin(const double x)
  {
   return MathIsValidNumber(x) ? x : 0.0;
  }

bool ExpertAllowed()
  {
   return AccountInfoInteger(ACCOUNT_TRADE_EXPERT) != 0 &&
          TerminalInfoInteger(TERMINAL_TRADE_ALLOWED) != 0 && MQLInfoInteger(MQL_TRADE_ALLOWED) != 0;
  }

bool SendAccount(const ulong id)
  {
   AitsAccount m;
   ZeroMemory(m);
   m.login = AccountInfoInteger(ACCOUNT_LOGIN);
   m.server = AccountInfoString(ACCOUNT_SERVER);
   m.currency = AccountInfoString(ACCOUNT_CURRENCY);
   m.leverage = (uint)AccountInfoInteger(ACCOUNT_LEVERAGE);
   m.margin_mode = (uint)AccountInfoInteger(ACCOUNT_MARGIN_MODE);
   m.balance = Fin(AccountInfoDouble(ACCOUNT_BALANCE));
   m.equity = Fin(AccountInfoDouble(ACCOUNT_EQUITY));
   m.margin = Fin(AccountInfoDouble(ACCOUNT_MARGIN));
   m.margin_free = Fin(AccountInfoDouble(ACCOUNT_MARGIN_FREE));
   m.margin_level = Fin(AccountInfoDouble(ACCOUNT_MARGIN_LEVEL));
   m.margin_so_call = Fin(AccountInfoDouble(ACCOUNT_MARGIN_SO_CALL));
   m.margin_so_so = Fin(AccountInfoDouble(ACCOUNT_MARGIN_SO_SO));
   m.trade_allowed = AccountInfoInteger(ACCOUNT_TRADE_ALLOWED) != 0;
   m.expert_allowed = ExpertAllowed();
   m.connected = TerminalInfoInteger(TERMINAL_CONNECTED) != 0;
   m.server_time_msc = (long)TimeTradeServer() * 1000;
   return Sent(AitsAppendAccount(g_out, m, g_seq_out + 1, id, InpMaxFrame), "account");
  }

// Pushes `account` when trading is switched off or on (AutoTrading, the account's permission)
// or the terminal loses or regains its trade server: the gateway alerts instead of sending
// orders that would come back 10026/10027.
void PushAccountOnPermissionChange()
  {
   const bool trade_allowed = AccountInfoInteger(ACCOUNT_TRADE_ALLOWED) != 0;
   const bool expert_allowed = ExpertAllowed();
   const bool connected = TerminalInfoInteger(TERMINAL_CONNECTED) != 0;
   if(trade_allowed == g_last_trade_allowed && expert_allowed == g_last_expert_allowed &&
      connected == g_last_connected)
      return;
   g_last_trade_allowed = trade_allowed;
   g_last_expert_allowed = expert_allowed;
   g_last_connected = connected;
   SendAccount(0);
  }

// The newest deal of the last day's history, read right after the positions: a start's snapshot
// is cut there (its transactions still queued for OnTradeTransaction are in the positions already).
// A deal older than a day has no transaction left in the queue.
ulong LastDealTicket()
  {
   const datetime now = TimeTradeServer();
   if(!HistorySelect(now - 86400, now + 86400))
      return 0;
   ulong last = 0;
   for(int i = HistoryDealsTotal() - 1; i >= 0; i--)
     {
      const ulong ticket = HistoryDealGetTicket(i);
      if(ticket > last)
         last = ticket;
     }
   return last;
  }

// The open positions, read between two looks at the newest deal: the terminal updates its caches
// on its own threads, so a deal that lands while they are read is read again, up to three times;
// the answer then names the deal its positions include (a start's snapshot is cut there).
bool ReadPositions(AitsPositions &m)
  {
   const ulong before = LastDealTicket();
   const int total = PositionsTotal();
   ArrayResize(m.positions, total);
   int n = 0;
   for(int i = 0; i < total; i++)
     {
      const ulong ticket = PositionGetTicket(i);  // selects it
      if(ticket == 0)
         continue;
      m.positions[n].ticket = ticket;
      m.positions[n].symbol = PositionGetString(POSITION_SYMBOL);
      m.positions[n].type = (uint)PositionGetInteger(POSITION_TYPE);
      m.positions[n].volume = Fin(PositionGetDouble(POSITION_VOLUME));
      m.positions[n].price_open = Fin(PositionGetDouble(POSITION_PRICE_OPEN));
      m.positions[n].sl = Fin(PositionGetDouble(POSITION_SL));
      m.positions[n].tp = Fin(PositionGetDouble(POSITION_TP));
      m.positions[n].price_current = Fin(PositionGetDouble(POSITION_PRICE_CURRENT));
      m.positions[n].swap = Fin(PositionGetDouble(POSITION_SWAP));
      m.positions[n].profit = Fin(PositionGetDouble(POSITION_PROFIT));
      m.positions[n].magic = (ulong)PositionGetInteger(POSITION_MAGIC);
      m.positions[n].comment = PositionGetString(POSITION_COMMENT);
      m.positions[n].time_msc = PositionGetInteger(POSITION_TIME_MSC);
      m.positions[n].time_update_msc = PositionGetInteger(POSITION_TIME_UPDATE_MSC);
      n++;
     }
   ArrayResize(m.positions, n);
   m.last_deal = LastDealTicket();
   return m.last_deal == before;
  }

bool SendPositions(const ulong id)
  {
   AitsPositions m;
   ZeroMemory(m);
   for(int attempt = 0; attempt < 3 && !ReadPositions(m); attempt++)
      continue;
   const int n = ArraySize(m.positions);
   if(Sent(AitsAppendPositions(g_out, m, g_seq_out + 1, id, InpMaxFrame), "positions"))
      return true;
   return g_state != LINK_DOWN &&
          SendError(AITS_ERR_INTERNAL, IntegerToString(n) + " positions exceed the frame cap", id);
  }

// OrderInfo of a working order (history = false: selected with OrderGetTicket) or of one in
// the selected history (HistoryOrderGet* by ticket).
void FillOrder(AitsOrderInfo &o, const ulong ticket, const bool history)
  {
   o.ticket = ticket;
   if(history)
     {
      o.symbol = HistoryOrderGetString(ticket, ORDER_SYMBOL);
      o.type = (uint)HistoryOrderGetInteger(ticket, ORDER_TYPE);
      o.state = (uint)HistoryOrderGetInteger(ticket, ORDER_STATE);
      o.volume_initial = Fin(HistoryOrderGetDouble(ticket, ORDER_VOLUME_INITIAL));
      o.volume_current = Fin(HistoryOrderGetDouble(ticket, ORDER_VOLUME_CURRENT));
      o.price_open = Fin(HistoryOrderGetDouble(ticket, ORDER_PRICE_OPEN));
      o.price_stoplimit = Fin(HistoryOrderGetDouble(ticket, ORDER_PRICE_STOPLIMIT));
      o.sl = Fin(HistoryOrderGetDouble(ticket, ORDER_SL));
      o.tp = Fin(HistoryOrderGetDouble(ticket, ORDER_TP));
      o.type_filling = (uint)HistoryOrderGetInteger(ticket, ORDER_TYPE_FILLING);
      o.type_time = (uint)HistoryOrderGetInteger(ticket, ORDER_TYPE_TIME);
      o.time_expiration = HistoryOrderGetInteger(ticket, ORDER_TIME_EXPIRATION);
      o.magic = (ulong)HistoryOrderGetInteger(ticket, ORDER_MAGIC);
      o.comment = HistoryOrderGetString(ticket, ORDER_COMMENT);
      o.time_setup_msc = HistoryOrderGetInteger(ticket, ORDER_TIME_SETUP_MSC);
      o.time_done_msc = HistoryOrderGetInteger(ticket, ORDER_TIME_DONE_MSC);
      o.position_id = (ulong)HistoryOrderGetInteger(ticket, ORDER_POSITION_ID);
      return;
     }
   o.symbol = OrderGetString(ORDER_SYMBOL);
   o.type = (uint)OrderGetInteger(ORDER_TYPE);
   o.state = (uint)OrderGetInteger(ORDER_STATE);
   o.volume_initial = Fin(OrderGetDouble(ORDER_VOLUME_INITIAL));
   o.volume_current = Fin(OrderGetDouble(ORDER_VOLUME_CURRENT));
   o.price_open = Fin(OrderGetDouble(ORDER_PRICE_OPEN));
   o.price_stoplimit = Fin(OrderGetDouble(ORDER_PRICE_STOPLIMIT));
   o.sl = Fin(OrderGetDouble(ORDER_SL));
   o.tp = Fin(OrderGetDouble(ORDER_TP));
   o.type_filling = (uint)OrderGetInteger(ORDER_TYPE_FILLING);
   o.type_time = (uint)OrderGetInteger(ORDER_TYPE_TIME);
   o.time_expiration = OrderGetInteger(ORDER_TIME_EXPIRATION);
   o.magic = (ulong)OrderGetInteger(ORDER_MAGIC);
   o.comment = OrderGetString(ORDER_COMMENT);
   o.time_setup_msc = OrderGetInteger(ORDER_TIME_SETUP_MSC);
   o.time_done_msc = OrderGetInteger(ORDER_TIME_DONE_MSC);
   o.position_id = (ulong)OrderGetInteger(ORDER_POSITION_ID);
  }

// Orders and deals have two strings each (symbol, comment: at most 31 characters, up to 4
// UTF-8 bytes each); 256 bytes apiece bounds an item, so a frame never reaches the cap.
int ItemsPerFrame(const int min_item_size)
  {
   return ((int)InpMaxFrame - AITS_ENVELOPE_BYTES - 16) / (min_item_size + 2 * 256);
  }

bool SendOrderList(const ulong &tickets[], const bool history, const ulong id)
  {
   const int total = ArraySize(tickets);
   const int per_frame = ItemsPerFrame(AITS_MIN_SIZE_ORDER_INFO);
   int i = 0;
   do
     {
      const int k = per_frame < total - i ? per_frame : total - i;
      AitsOrders m;
      ZeroMemory(m);
      m.history = history;
      m.final_ = i + k >= total;
      ArrayResize(m.orders, k);
      for(int j = 0; j < k; j++)
        {
         if(!history)
            OrderSelect(tickets[i + j]);
         FillOrder(m.orders[j], tickets[i + j], history);
        }
      if(!Sent(AitsAppendOrders(g_out, m, g_seq_out + 1, id, InpMaxFrame), "orders"))
         return false;
      i += k;
     }
   while(i < total);
   return true;
  }

bool SendOrders(const ulong id)
  {
   ulong tickets[];
   const int total = OrdersTotal();
   ArrayResize(tickets, total);
   int n = 0;
   for(int i = 0; i < total; i++)
     {
      const ulong ticket = OrderGetTicket(i);
      if(ticket != 0)
         tickets[n++] = ticket;
     }
   ArrayResize(tickets, n);
   return SendOrderList(tickets, false, id);
  }

bool OnGetHistory(AitsReader &r, const ulong id)
  {
   AitsGetHistory m;
   if(!AitsReadGetHistory(r, m))
      return Malformed(r, id);
   const long to_msc = m.to_msc == 0 ? ((long)TimeTradeServer() + 86400) * 1000 : m.to_msc;
   if(m.from_msc < 0 || to_msc < m.from_msc)
      return SendError(AITS_ERR_BAD_REQUEST, "bad range " + IntegerToString(m.from_msc) + ".." +
                       IntegerToString(to_msc), id);
   // HistorySelect works in seconds: select the whole seconds, then keep the milliseconds asked.
   if(!HistorySelect((datetime)(m.from_msc / 1000), (datetime)(to_msc / 1000 + 1)))
      return SendError(AITS_ERR_INTERNAL, "HistorySelect failed (error " + IntegerToString(GetLastError()) + ")", id);
   ulong orders[];
   int n = 0;
   const int order_total = HistoryOrdersTotal();
   ArrayResize(orders, order_total);
   for(int i = 0; i < order_total; i++)
     {
      const ulong ticket = HistoryOrderGetTicket(i);
      if(ticket == 0)
         continue;
      const long t = HistoryOrderGetInteger(ticket, ORDER_TIME_SETUP_MSC);
      if(t >= m.from_msc && t <= to_msc)
         orders[n++] = ticket;
     }
   ArrayResize(orders, n);
   if(!SendOrderList(orders, true, id))
      return false;
   ulong deals[];
   n = 0;
   const int deal_total = HistoryDealsTotal();
   ArrayResize(deals, deal_total);
   for(int i = 0; i < deal_total; i++)
     {
      const ulong ticket = HistoryDealGetTicket(i);
      if(ticket == 0)
         continue;
      const long t = HistoryDealGetInteger(ticket, DEAL_TIME_MSC);
      if(t >= m.from_msc && t <= to_msc)
         deals[n++] = ticket;
     }
   const int per_frame = ItemsPerFrame(AITS_MIN_SIZE_DEAL_INFO);
   int i = 0;
   do
     {
      const int k = per_frame < n - i ? per_frame : n - i;
      AitsDeals out;
      ZeroMemory(out);
      out.final_ = i + k >= n;
      ArrayResize(out.deals, k);
      for(int j = 0; j < k; j++)
        {
         const ulong t = deals[i + j];
         out.deals[j].ticket = t;
         out.deals[j].order = (ulong)HistoryDealGetInteger(t, DEAL_ORDER);
         out.deals[j].position_id = (ulong)HistoryDealGetInteger(t, DEAL_POSITION_ID);
         out.deals[j].symbol = HistoryDealGetString(t, DEAL_SYMBOL);
         out.deals[j].type = (uint)HistoryDealGetInteger(t, DEAL_TYPE);
         out.deals[j].entry = (uint)HistoryDealGetInteger(t, DEAL_ENTRY);
         out.deals[j].reason = (uint)HistoryDealGetInteger(t, DEAL_REASON);
         out.deals[j].volume = Fin(HistoryDealGetDouble(t, DEAL_VOLUME));
         out.deals[j].price = Fin(HistoryDealGetDouble(t, DEAL_PRICE));
         out.deals[j].commission = Fin(HistoryDealGetDouble(t, DEAL_COMMISSION));
         out.deals[j].swap = Fin(HistoryDealGetDouble(t, DEAL_SWAP));
         out.deals[j].profit = Fin(HistoryDealGetDouble(t, DEAL_PROFIT));
         out.deals[j].fee = Fin(HistoryDealGetDouble(t, DEAL_FEE));
         out.deals[j].magic = (ulong)HistoryDealGetInteger(t, DEAL_MAGIC);
         out.deals[j].comment = HistoryDealGetString(t, DEAL_COMMENT);
         out.deals[j].time_msc = HistoryDealGetInteger(t, DEAL_TIME_MSC);
        }
      if(!Sent(AitsAppendDeals(g_out, out, g_seq_out + 1, id, InpMaxFrame), "deals"))
         return false;
      i += k;
     }
   while(i < n);
   return true;
  }

bool OnGetSymbol(AitsReader &r, const ulong id)
  {
   AitsGetSymbol m;
   if(!AitsReadGetSymbol(r, m))
      return Malformed(r, id);
   if(!Usable(m.symbol))
      return SendError(AITS_ERR_UNKNOWN_SYMBOL, "unknown or not allowed symbol '" + m.symbol + "'", id);
   const string s = m.symbol;
   AitsSymbol out;
   ZeroMemory(out);
   out.spec.name = s;
   out.spec.digits = (uint)SymbolInfoInteger(s, SYMBOL_DIGITS);
   out.spec.point = Fin(SymbolInfoDouble(s, SYMBOL_POINT));
   out.spec.tick_size = Fin(SymbolInfoDouble(s, SYMBOL_TRADE_TICK_SIZE));
   out.spec.tick_value = Fin(SymbolInfoDouble(s, SYMBOL_TRADE_TICK_VALUE));
   out.spec.contract_size = Fin(SymbolInfoDouble(s, SYMBOL_TRADE_CONTRACT_SIZE));
   out.spec.volume_min = Fin(SymbolInfoDouble(s, SYMBOL_VOLUME_MIN));
   out.spec.volume_max = Fin(SymbolInfoDouble(s, SYMBOL_VOLUME_MAX));
   out.spec.volume_step = Fin(SymbolInfoDouble(s, SYMBOL_VOLUME_STEP));
   out.spec.stops_level = (int)SymbolInfoInteger(s, SYMBOL_TRADE_STOPS_LEVEL);
   out.spec.freeze_level = (int)SymbolInfoInteger(s, SYMBOL_TRADE_FREEZE_LEVEL);
   // SYMBOL_FILLING_MODE flags: the gateway picks every order's filling from them (10030).
   out.spec.filling_mode = (uint)SymbolInfoInteger(s, SYMBOL_FILLING_MODE);
   out.spec.execution_mode = (uint)SymbolInfoInteger(s, SYMBOL_TRADE_EXEMODE);
   out.spec.trade_mode = (uint)SymbolInfoInteger(s, SYMBOL_TRADE_MODE);
   out.spec.order_mode = (uint)SymbolInfoInteger(s, SYMBOL_ORDER_MODE);
   out.spec.calc_mode = (uint)SymbolInfoInteger(s, SYMBOL_TRADE_CALC_MODE);
   out.spec.currency_base = SymbolInfoString(s, SYMBOL_CURRENCY_BASE);
   out.spec.currency_profit = SymbolInfoString(s, SYMBOL_CURRENCY_PROFIT);
   out.spec.currency_margin = SymbolInfoString(s, SYMBOL_CURRENCY_MARGIN);
   out.spec.swap_long = Fin(SymbolInfoDouble(s, SYMBOL_SWAP_LONG));
   out.spec.swap_short = Fin(SymbolInfoDouble(s, SYMBOL_SWAP_SHORT));
   out.spec.margin_initial = Fin(SymbolInfoDouble(s, SYMBOL_MARGIN_INITIAL));
   out.spec.margin_hedged = Fin(SymbolInfoDouble(s, SYMBOL_MARGIN_HEDGED));
   // Trade sessions of each weekday: indexes from 0 until SymbolInfoSessionTrade says no;
   // from/to are seconds from the day's 00:00, up to 172800 for a session that runs past
   // midnight (MQL5 book, "Schedules of trading and quoting sessions").
   int n = 0;
   for(int day = 0; day < 7; day++)
      for(uint k = 0; k < 16; k++)
        {
         datetime from = 0, to = 0;
         if(!SymbolInfoSessionTrade(s, (ENUM_DAY_OF_WEEK)day, k, from, to))
            break;
         ArrayResize(out.spec.sessions, n + 1);
         out.spec.sessions[n].day = (uchar)day;
         out.spec.sessions[n].from_sec = (uint)from;
         out.spec.sessions[n].to_sec = (uint)to;
         n++;
        }
   return Sent(AitsAppendSymbol(g_out, out, g_seq_out + 1, id, InpMaxFrame), "symbol");
  }

//+------------------------------------------------------------------+
//| Trading                                                          |
//+------------------------------------------------------------------+
void RememberId(const string coid)
  {
   g_sent_ids[g_sent_next] = coid;
   g_sent_next = (g_sent_next + 1) % AITS_SENT_IDS;
  }

// A request rejected outright (no order, no deal, a retcode saying so: 10004 requote, 10020
// price changed, 10030 filling, 10019 no money, ...) never reached the book, so its id may be
// sent again (the gateway retries requotes). An unknown outcome (10011, 10012, 10031) keeps it.
void ForgetIdIfRejected(const string coid, const MqlTradeResult &res)
  {
   if(coid == "" || res.order != 0 || res.deal != 0 || res.retcode == TRADE_RETCODE_PLACED ||
      res.retcode == TRADE_RETCODE_DONE || res.retcode == TRADE_RETCODE_DONE_PARTIAL ||
      res.retcode == TRADE_RETCODE_ERROR || res.retcode == TRADE_RETCODE_TIMEOUT ||
      res.retcode == TRADE_RETCODE_CONNECTION)
      return;
   for(int i = 0; i < AITS_SENT_IDS; i++)
      if(g_sent_ids[i] == coid)
         g_sent_ids[i] = "";
  }

// Whether an order with this client order id was sent before: the EA's own list, then the
// working orders and open positions, then the history of InpDuplicateLookbackDays; an order
// is recognised by its comment or by its magic (either may be what a broker keeps).
bool SentBefore(const string coid, const ulong magic)
  {
   for(int i = 0; i < AITS_SENT_IDS; i++)
      if(g_sent_ids[i] == coid)
         return true;
   for(int i = OrdersTotal() - 1; i >= 0; i--)
      if(OrderGetTicket(i) != 0 &&
         (OrderGetString(ORDER_COMMENT) == coid || (magic != 0 && (ulong)OrderGetInteger(ORDER_MAGIC) == magic)))
         return true;
   for(int i = PositionsTotal() - 1; i >= 0; i--)
      if(PositionGetTicket(i) != 0 &&
         (PositionGetString(POSITION_COMMENT) == coid ||
          (magic != 0 && (ulong)PositionGetInteger(POSITION_MAGIC) == magic)))
         return true;
   const datetime now = TimeTradeServer();
   if(!HistorySelect(now - InpDuplicateLookbackDays * 86400, now + 86400))
      return false;
   for(int i = HistoryOrdersTotal() - 1; i >= 0; i--)
     {
      const ulong ticket = HistoryOrderGetTicket(i);
      if(ticket != 0 && (HistoryOrderGetString(ticket, ORDER_COMMENT) == coid ||
                         (magic != 0 && (ulong)HistoryOrderGetInteger(ticket, ORDER_MAGIC) == magic)))
         return true;
     }
   return false;
  }

// The checks every id-carrying request passes; true when the request may go on. Otherwise the
// one reply was sent: an error for a bad id, or trade_result 10035 for a repeated one.
bool CheckClientOrderId(const string coid, const ulong magic, const ulong id, bool &replied_ok)
  {
   replied_ok = true;
   if(coid == "" || StringLen(coid) > AITS_MAX_COMMENT)
     {
      replied_ok = SendError(AITS_ERR_BAD_REQUEST, "client order id '" + coid + "' is empty or longer than " +
                             IntegerToString(AITS_MAX_COMMENT) + " characters", id);
      return false;
     }
   if(SentBefore(coid, magic))
     {
      MqlTradeResult dup;
      ZeroMemory(dup);
      dup.retcode = TRADE_RETCODE_INVALID_ORDER;
      dup.comment = "duplicate client order id";
      replied_ok = ReplyTradeResult(id, coid, dup);
      return false;
     }
   return true;
  }

bool ReplyTradeResult(const ulong id, const string coid, const MqlTradeResult &res)
  {
   AitsTradeResult m;
   ZeroMemory(m);
   m.client_order_id = coid;
   m.retcode = res.retcode;
   m.deal = res.deal;
   m.order = res.order;
   m.volume = Fin(res.volume);
   m.price = Fin(res.price);
   m.bid = Fin(res.bid);
   m.ask = Fin(res.ask);
   m.comment = res.comment;
   m.mt5_request_id = res.request_id;
   m.retcode_external = res.retcode_external;
   return Sent(AitsAppendTradeResult(g_out, m, g_seq_out + 1, id, InpMaxFrame), "trade_result");
  }

// A result that did not come from the trade server: retcode and why.
bool ReplyRetcode(const ulong id, const string coid, const uint retcode, const string why)
  {
   MqlTradeResult res;
   ZeroMemory(res);
   res.retcode = retcode;
   res.comment = why;
   return ReplyTradeResult(id, coid, res);
  }

// Sends with OrderSendAsync so that the timer (heartbeats, ticks) never waits for the trade
// server; the result arrives as TRADE_TRANSACTION_REQUEST with the same request_id (MQL5
// reference, OrderSendAsync). A request the terminal refuses at once (false, or a retcode
// other than 10008 PLACED: e.g. 10030 filling, 10027 AutoTrading off) is answered now.
bool SendTrade(MqlTradeRequest &req, const string coid, const ulong id)
  {
   if(coid != "")
      RememberId(coid);
   MqlTradeResult res;
   ZeroMemory(res);
   ResetLastError();
   const bool sent = OrderSendAsync(req, res);
   if(sent && res.retcode == TRADE_RETCODE_PLACED)
     {
      const int k = ArraySize(g_pend_mt5_id);
      ArrayResize(g_pend_mt5_id, k + 1);
      ArrayResize(g_pend_request, k + 1);
      ArrayResize(g_pend_coid, k + 1);
      ArrayResize(g_pend_since, k + 1);
      g_pend_mt5_id[k] = res.request_id;
      g_pend_request[k] = id;
      g_pend_coid[k] = coid;
      g_pend_since[k] = GetTickCount64();
      return true;
     }
   if(res.retcode == 0)
     {
      res.retcode = TRADE_RETCODE_ERROR;
      res.comment = "OrderSendAsync failed (error " + IntegerToString(GetLastError()) + ")";
     }
   ForgetIdIfRejected(coid, res);
   return ReplyTradeResult(id, coid, res);
  }

int FindPending(const uint mt5_request_id)
  {
   for(int i = ArraySize(g_pend_mt5_id) - 1; i >= 0; i--)
      if(g_pend_mt5_id[i] == mt5_request_id)
         return i;
   return -1;
  }

void RemovePending(const int i)
  {
   const int last = ArraySize(g_pend_mt5_id) - 1;
   g_pend_mt5_id[i] = g_pend_mt5_id[last];
   g_pend_request[i] = g_pend_request[last];
   g_pend_coid[i] = g_pend_coid[last];
   g_pend_since[i] = g_pend_since[last];
   ArrayResize(g_pend_mt5_id, last);
   ArrayResize(g_pend_request, last);
   ArrayResize(g_pend_coid, last);
   ArrayResize(g_pend_since, last);
  }

// A request the trade server has not answered in InpTradeTimeoutMs gets 10012 TIMEOUT: the
// gateway then asks for orders and deals before anything is resent.
void ExpirePendingTrades()
  {
   const ulong now = GetTickCount64();
   for(int i = ArraySize(g_pend_mt5_id) - 1; i >= 0 && g_state == LINK_READY; i--)
      if(now - g_pend_since[i] > (ulong)InpTradeTimeoutMs)
        {
         const ulong id = g_pend_request[i];
         const string coid = g_pend_coid[i];
         RemovePending(i);
         ReplyRetcode(id, coid, TRADE_RETCODE_TIMEOUT, "no result from the trade server in " +
                      IntegerToString(InpTradeTimeoutMs) + " ms");
        }
  }

bool OnPlaceOrder(AitsReader &r, const ulong id)
  {
   AitsPlaceOrder m;
   if(!AitsReadPlaceOrder(r, m))
      return Malformed(r, id);
   bool replied = true;
   if(!CheckClientOrderId(m.client_order_id, m.magic, id, replied))
      return replied;
   if(!Usable(m.symbol))
      return SendError(AITS_ERR_UNKNOWN_SYMBOL, "unknown or not allowed symbol '" + m.symbol + "'", id);
   if(m.action != TRADE_ACTION_DEAL && m.action != TRADE_ACTION_PENDING)
      return SendError(AITS_ERR_BAD_REQUEST, "place_order action " + IntegerToString(m.action) +
                       " is neither 1 DEAL nor 5 PENDING", id);
   MqlTradeRequest req;
   ZeroMemory(req);
   req.action = (ENUM_TRADE_REQUEST_ACTIONS)m.action;
   req.magic = m.magic;
   req.symbol = m.symbol;
   req.volume = m.volume;
   req.type = (ENUM_ORDER_TYPE)m.type;
   req.price = m.price;
   req.stoplimit = m.stoplimit;
   req.sl = m.sl;
   req.tp = m.tp;
   req.deviation = m.deviation;
   // The filling as sent: the gateway derived it from the symbol's SYMBOL_FILLING_MODE.
   req.type_filling = (ENUM_ORDER_TYPE_FILLING)m.type_filling;
   req.type_time = (ENUM_ORDER_TYPE_TIME)m.type_time;
   req.expiration = (datetime)m.expiration;
   req.position = m.position;
   req.comment = m.client_order_id;
   if(req.action == TRADE_ACTION_DEAL && req.price == 0)
     {
      MqlTick tick;
      if(!SymbolInfoTick(m.symbol, tick))
         return ReplyRetcode(id, m.client_order_id, TRADE_RETCODE_PRICE_OFF, "no current price");
      req.price = (m.type == ORDER_TYPE_BUY) ? tick.ask : tick.bid;
     }
   return SendTrade(req, m.client_order_id, id);
  }

bool OnClosePosition(AitsReader &r, const ulong id)
  {
   AitsClosePosition m;
   if(!AitsReadClosePosition(r, m))
      return Malformed(r, id);
   bool replied = true;
   if(!CheckClientOrderId(m.client_order_id, m.magic, id, replied))
      return replied;
   if(!PositionSelectByTicket(m.ticket))
      return ReplyRetcode(id, m.client_order_id, TRADE_RETCODE_POSITION_CLOSED,
                          "no open position " + IntegerToString((long)m.ticket));
   const string symbol = PositionGetString(POSITION_SYMBOL);
   const bool is_buy = PositionGetInteger(POSITION_TYPE) == POSITION_TYPE_BUY;
   const double open_volume = PositionGetDouble(POSITION_VOLUME);
   MqlTick tick;
   if(!SymbolInfoTick(symbol, tick))
      return ReplyRetcode(id, m.client_order_id, TRADE_RETCODE_PRICE_OFF, "no current price");
   MqlTradeRequest req;
   ZeroMemory(req);
   req.action = TRADE_ACTION_DEAL;
   req.position = m.ticket;
   req.symbol = symbol;
   req.volume = m.volume > 0 ? m.volume : open_volume;  // 0: all of it
   req.type = is_buy ? ORDER_TYPE_SELL : ORDER_TYPE_BUY;
   req.price = is_buy ? tick.bid : tick.ask;
   req.deviation = m.deviation;
   req.type_filling = (ENUM_ORDER_TYPE_FILLING)m.type_filling;
   req.magic = m.magic;
   req.comment = m.client_order_id;
   return SendTrade(req, m.client_order_id, id);
  }

bool OnModifyPosition(AitsReader &r, const ulong id)
  {
   AitsModifyPosition m;
   if(!AitsReadModifyPosition(r, m))
      return Malformed(r, id);
   if(!PositionSelectByTicket(m.ticket))
      return ReplyRetcode(id, "", TRADE_RETCODE_POSITION_CLOSED, "no open position " + IntegerToString((long)m.ticket));
   MqlTradeRequest req;
   ZeroMemory(req);
   req.action = TRADE_ACTION_SLTP;
   req.position = m.ticket;
   req.symbol = PositionGetString(POSITION_SYMBOL);
   req.magic = (ulong)PositionGetInteger(POSITION_MAGIC);
   req.sl = m.sl;
   req.tp = m.tp;
   return SendTrade(req, "", id);
  }

bool OnModifyOrder(AitsReader &r, const ulong id)
  {
   AitsModifyOrder m;
   if(!AitsReadModifyOrder(r, m))
      return Malformed(r, id);
   if(!OrderSelect(m.ticket))
      return ReplyRetcode(id, "", TRADE_RETCODE_INVALID, "no working order " + IntegerToString((long)m.ticket));
   MqlTradeRequest req;
   ZeroMemory(req);
   req.action = TRADE_ACTION_MODIFY;
   req.order = m.ticket;
   req.symbol = OrderGetString(ORDER_SYMBOL);
   req.magic = (ulong)OrderGetInteger(ORDER_MAGIC);
   req.price = m.price;
   req.stoplimit = m.stoplimit;
   req.sl = m.sl;
   req.tp = m.tp;
   req.type_time = (ENUM_ORDER_TYPE_TIME)m.type_time;
   req.expiration = (datetime)m.expiration;
   return SendTrade(req, "", id);
  }

bool OnCancelOrder(AitsReader &r, const ulong id)
  {
   AitsCancelOrder m;
   if(!AitsReadCancelOrder(r, m))
      return Malformed(r, id);
   if(!OrderSelect(m.ticket))
      return ReplyRetcode(id, "", TRADE_RETCODE_INVALID, "no working order " + IntegerToString((long)m.ticket));
   MqlTradeRequest req;
   ZeroMemory(req);
   req.action = TRADE_ACTION_REMOVE;
   req.order = m.ticket;
   req.symbol = OrderGetString(ORDER_SYMBOL);
   req.magic = (ulong)OrderGetInteger(ORDER_MAGIC);
   return SendTrade(req, "", id);
  }

bool OnCloseBy(AitsReader &r, const ulong id)
  {
   AitsCloseBy m;
   if(!AitsReadCloseBy(r, m))
      return Malformed(r, id);
   // close_by carries no magic: it is the client order id's (AitsMagicOf, the lead's rule).
   const ulong magic = AitsMagicOf(m.client_order_id);
   bool replied = true;
   if(!CheckClientOrderId(m.client_order_id, magic, id, replied))
      return replied;
   if(!PositionSelectByTicket(m.ticket))
      return ReplyRetcode(id, m.client_order_id, TRADE_RETCODE_POSITION_CLOSED,
                          "no open position " + IntegerToString((long)m.ticket));
   const string symbol = PositionGetString(POSITION_SYMBOL);
   MqlTradeRequest req;
   ZeroMemory(req);
   req.action = TRADE_ACTION_CLOSE_BY;
   req.position = m.ticket;
   req.position_by = m.ticket_by;
   req.symbol = symbol;
   req.magic = magic;
   req.comment = m.client_order_id;
   return SendTrade(req, m.client_order_id, id);
  }
//+------------------------------------------------------------------+
