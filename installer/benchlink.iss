; Inno Setup 6 script for Benchlink on Windows.
; Build on Windows after the PyInstaller bundle exists (installer\build.ps1 does both):
;   iscc /DAppVersion=0.1.0 installer\benchlink.iss      ->  dist\installer\benchlink-<version>-setup.exe
; Per-user install (no administrator rights): program files under %LOCALAPPDATA%\Programs\Benchlink,
; data (database, key file, logs, config.toml) under %LOCALAPPDATA%\Benchlink\benchlink, which the
; uninstaller keeps unless the user asks for it to be deleted (or passes /PURGEDATA=1 to a silent uninstall).

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "Benchlink"
#define AppPublisher "Benchlink"
#define BundleDir "..\dist\benchlink"
#define DataDir "{localappdata}\Benchlink"

[Setup]
AppId={{7C1F3B52-8E0B-4C59-9C1E-5B3A2D6E4F10}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher={#AppPublisher}
AppComments=Connects laboratory analyzers (ASTM, HL7) to the lab information system
; per-user: no UAC prompt, {autopf} resolves to %LOCALAPPDATA%\Programs
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
OutputDir=..\dist\installer
OutputBaseFilename=benchlink-{#AppVersion}-setup
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
ChangesAssociations=yes
UninstallDisplayIcon={app}\benchlinkw.exe
UninstallDisplayName={#AppName} {#AppVersion}
; an upgrade installs over the running app only after it is closed
CloseApplications=yes
RestartApplications=no

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "associate"; Description: "Open ASTM capture files (.astm) with Benchlink"; GroupDescription: "File associations:"

[Files]
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
Source: "..\resources\sample-config.toml"; DestDir: "{app}"; Flags: ignoreversion

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\benchlinkw.exe"; WorkingDir: "{app}"
Name: "{group}\{#AppName} doctor"; Filename: "{cmd}"; Parameters: "/k """"{app}\benchlink.exe"" doctor"""; WorkingDir: "{app}"
Name: "{group}\{#AppName} data folder"; Filename: "{#DataDir}"; Flags: foldershortcut
Name: "{group}\{cm:UninstallProgram,{#AppName}}"; Filename: "{uninstallexe}"
Name: "{userdesktop}\{#AppName}"; Filename: "{app}\benchlinkw.exe"; Tasks: desktopicon

[Registry]
; per-user file association (HKCU\Software\Classes, via HKA with PrivilegesRequired=lowest)
Root: HKA; Subkey: "Software\Classes\.astm"; ValueType: string; ValueName: ""; ValueData: "Benchlink.Capture"; Flags: uninsdeletevalue; Tasks: associate
Root: HKA; Subkey: "Software\Classes\.astm\OpenWithProgids"; ValueType: string; ValueName: "Benchlink.Capture"; ValueData: ""; Flags: uninsdeletevalue; Tasks: associate
Root: HKA; Subkey: "Software\Classes\Benchlink.Capture"; ValueType: string; ValueName: ""; ValueData: "ASTM capture (Benchlink)"; Flags: uninsdeletekey; Tasks: associate
Root: HKA; Subkey: "Software\Classes\Benchlink.Capture\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\benchlinkw.exe,0"; Tasks: associate
; `benchlink decode` prints the decoded messages; /k keeps the console open so the operator can read them
Root: HKA; Subkey: "Software\Classes\Benchlink.Capture\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{cmd}"" /k """"{app}\benchlink.exe"" decode ""%1"""""; Tasks: associate

[Run]
Filename: "{app}\benchlinkw.exe"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallRun]
; stop a running headless service started from this folder before files are removed
Filename: "{sys}\taskkill.exe"; Parameters: "/F /IM benchlink.exe"; Flags: runhidden; RunOnceId: "StopBenchlink"
Filename: "{sys}\taskkill.exe"; Parameters: "/F /IM benchlinkw.exe"; Flags: runhidden; RunOnceId: "StopBenchlinkW"

[Code]
{ The data folder holds the encrypted database with every result received. Deleting it is permanent, so the
  default answer is No, and a silent uninstall only deletes it when /PURGEDATA=1 is given. }
function ShouldPurgeData(): Boolean;
begin
  if UninstallSilent() then
    Result := ExpandConstant('{param:PURGEDATA|0}') = '1'
  else
    Result := MsgBox('Also delete the Benchlink data folder?' + #13#10#13#10 +
      ExpandConstant('{#DataDir}') + #13#10#13#10 +
      'It holds the results database, its key file (if any), logs and the configuration. ' +
      'Choose No to keep it: a later installation continues with the same data.',
      mbConfirmation, MB_YESNO or MB_DEFBUTTON2) = IDYES;
end;

procedure CurUninstallStepChanged(CurUninstallStep: TUninstallStep);
begin
  if (CurUninstallStep = usPostUninstall) and DirExists(ExpandConstant('{#DataDir}')) then
  begin
    if ShouldPurgeData() then
      DelTree(ExpandConstant('{#DataDir}'), True, True, True);
  end;
end;
