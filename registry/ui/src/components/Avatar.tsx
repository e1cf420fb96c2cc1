import type { Avatar as AvatarData } from '../api/hooks';

/** Quay's avatar: the name's initial on the colour the API assigns. */
export default function Avatar({ avatar }: { avatar?: AvatarData }) {
  if (!avatar) return null;
  return (
    <span className="quay-avatar" style={{ background: avatar.color }} aria-hidden="true">
      {avatar.name.charAt(0).toUpperCase()}
    </span>
  );
}
